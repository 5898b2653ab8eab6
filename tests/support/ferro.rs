//! An OCI 1.1 registry with the native referrers API and `OCI-Subject` for tests and benches:
//! ferro-oci-server (in-memory), in-process on a free loopback port.
#![allow(dead_code)]

use std::sync::Arc;

/// An OCI 1.1 registry (ferro-oci-server, in-memory) on a free loopback port, served by its own
/// thread and runtime so that blocking CLI runs in a test do not stall it. Stopped on drop.
pub struct Ferro {
    pub host: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ferro {
    pub fn start() -> Ferro {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let state = ferro_oci_server::AppState::new(
                    Arc::new(ferro_blob_store::InMemoryBlobStore::new()),
                    Arc::new(ferro_oci_server::InMemoryRegistryMeta::new()),
                );
                let app = ferro_oci_server::router(state);
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
                let _ = stopped.await;
            });
            // Ends the server task and any connection still open.
            rt.shutdown_background();
        });
        Ferro {
            host,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Ferro {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
