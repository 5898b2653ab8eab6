//! `imgseal completion SHELL` and `imgseal man DIR`: generated from the clap definitions.

use super::*;

/// Write the completion script for `shell` to stdout.
pub(crate) fn completion(shell: clap_complete::Shell) -> u8 {
    use clap::CommandFactory as _;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "imgseal", &mut out);
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out);
    let _ = stdout.flush();
    0
}

/// Write imgseal.1 and one page per (sub)command into `dir`.
pub(crate) fn man_pages(dir: &std::path::Path) -> Result<u8, Error> {
    use clap::CommandFactory as _;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    fn write(dir: &std::path::Path, cmd: clap::Command, name: String) -> Result<usize, Error> {
        let cmd = cmd
            .display_name(name.clone())
            .bin_name(name.replace('-', " "));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .render(&mut page)
            .map_err(|e| Error::Usage(format!("cannot render the man page {name}: {e}")))?;
        let path = dir.join(format!("{name}.1"));
        imgseal::util::fs::write_file_atomic(&path, &page, 0o644, true)?;
        let mut n = 1;
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            n += write(dir, sub.clone(), format!("{name}-{}", sub.get_name()))?;
        }
        Ok(n)
    }
    let n = write(dir, Cli::command(), "imgseal".to_string())?;
    errln!("{n} man pages written to {}", dir.display());
    Ok(0)
}
