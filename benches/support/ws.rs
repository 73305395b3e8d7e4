//! A WebSocket stream publisher for the benchmarks that feed the live sources.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket server on 127.0.0.1 (a fake Jetstream or Mastodon stream): sends the frames
/// it is given to the connection of the moment, in order; counts the connections and the
/// frames written. Its address, the sender, and the counts.
pub async fn publisher() -> (
    String,
    tokio::sync::mpsc::UnboundedSender<Vec<String>>,
    Arc<Mutex<(u64, u64)>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<String>>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let counts: Arc<Mutex<(u64, u64)>> = Arc::default();
    let c = counts.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (rx, c) = (rx.clone(), c.clone());
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                c.lock().expect("lock").0 += 1;
                let (mut out, mut inp) = ws.split();
                let mut rx = rx.lock().await;
                loop {
                    tokio::select! {
                        frames = rx.recv() => {
                            let Some(frames) = frames else { return };
                            let n = frames.len() as u64;
                            for f in frames {
                                if out.feed(Message::Text(f)).await.is_err() {
                                    return;
                                }
                            }
                            if out.flush().await.is_err() {
                                return;
                            }
                            c.lock().expect("lock").1 += n;
                        }
                        frame = inp.next() => if !matches!(frame, Some(Ok(_))) { return },
                    }
                }
            });
        }
    });
    (url, tx, counts)
}
