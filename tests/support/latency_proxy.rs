//! A loopback TCP proxy that adds network latency in front of a real registry: every chunk is
//! forwarded a random 10–20 ms after it arrived, in each direction, so a request and its
//! response take 20–40 ms longer, as one ordinary network hop away. Order is kept (each
//! direction is one queue); nothing is parsed or changed.
//!
//! Bounded: at most [`MAX_CONNECTIONS`] at once (more are closed on accept), connections idle
//! for [`IDLE`] are closed, and dropping the proxy stops it and closes every connection.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// A connection idle this long is closed.
pub const IDLE: Duration = Duration::from_secs(30);
/// Delay added to each direction, in milliseconds (lowest, highest).
pub const DELAY_MS: (u64, u64) = (10, 20);

/// A running proxy to `upstream`; stopped on drop.
pub struct LatencyProxy {
    /// `127.0.0.1:PORT` to connect to instead of the upstream.
    pub host: String,
    shared: Arc<Shared>,
    accept: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    open: AtomicUsize,
    accepted: AtomicUsize,
    refused: AtomicUsize,
    /// Open connections' sockets by id, to close them on drop.
    sockets: Mutex<std::collections::HashMap<usize, [TcpStream; 2]>>,
}

impl LatencyProxy {
    /// Listen on a free loopback port and forward every connection to `upstream` (host:port).
    pub fn start(upstream: &str) -> LatencyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            sockets: Mutex::new(std::collections::HashMap::new()),
        });
        let (s, upstream) = (shared.clone(), upstream.to_string());
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if s.open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                    s.refused.fetch_add(1, Ordering::SeqCst);
                    continue; // dropped: closed
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let id = s.accepted.fetch_add(1, Ordering::SeqCst);
                s.open.fetch_add(1, Ordering::SeqCst);
                serve(id, client, server, s.clone());
            }
        });
        LatencyProxy {
            host,
            shared,
            accept: Some(accept),
        }
    }

    /// Connections accepted and forwarded so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections closed on accept because [`MAX_CONNECTIONS`] were open.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host); // wake the accept loop
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        if let Ok(sockets) = self.shared.sockets.lock() {
            for s in sockets.values().flatten() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Forward both directions of one connection, each through a delaying queue.
fn serve(id: usize, client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    for s in [&client, &server] {
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(IDLE));
    }
    if let (Ok(c), Ok(s), Ok(mut list)) = (
        client.try_clone(),
        server.try_clone(),
        shared.sockets.lock(),
    ) {
        list.insert(id, [c, s]);
    }
    let done = Arc::new(AtomicUsize::new(0));
    for (from, to) in [(&client, &server), (&server, &client)] {
        let (from, to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        let peer = from.try_clone().unwrap();
        std::thread::spawn(move || pump_in(from, tx));
        let (shared, done) = (shared.clone(), done.clone());
        std::thread::spawn(move || {
            pump_out(rx, to, peer);
            if done.fetch_add(1, Ordering::SeqCst) == 1 {
                shared.open.fetch_sub(1, Ordering::SeqCst);
                if let Ok(mut list) = shared.sockets.lock() {
                    list.remove(&id);
                }
            }
        });
    }
}

/// Read chunks from `from`, stamped with the time they are due to be forwarded.
fn pump_in(mut from: TcpStream, tx: mpsc::Sender<(Instant, Vec<u8>)>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let due = Instant::now() + delay();
                if tx.send((due, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    // Dropping `tx`: pump_out forwards what is queued, then half-closes its side.
}

/// Forward each queued chunk when due; on a write error close both ends.
fn pump_out(rx: mpsc::Receiver<(Instant, Vec<u8>)>, mut to: TcpStream, from: TcpStream) {
    for (due, chunk) in rx {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if to.write_all(&chunk).is_err() {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn delay() -> Duration {
    let mut b = [0u8; 1];
    getrandom::fill(&mut b).unwrap();
    let (lo, hi) = DELAY_MS;
    Duration::from_millis(lo + u64::from(b[0]) % (hi - lo + 1))
}
