//! The HTTP/1.1 server: actix-web's App on actix-http's HTTP/1 service, over TCP connections
//! that add `Connection: close` to the answers actix-http writes by itself before it closes a
//! connection (issue 15 item 6).
//!
//! When a request cannot be parsed (a broken request line or header, a header block too large,
//! a request that never completes), actix-http answers 400, 431 or 408 and closes the
//! connection. Its answer takes the connection type of the request before it, so on a
//! keep-alive connection it says nothing about closing, and a client that already sent its
//! next request on that connection loses it. Every answer of the service itself carries
//! `x-amzn-RequestId` or comes from a route, and none of those is a bare 400, 408 or 431; so
//! a response head of those statuses without that header and without a `connection` header
//! is actix-http's own, and `connection: close` is added to it on its way out.
//!
//! actix-web's `HttpServer` builds the same service but gives no hold on the connection, so
//! the server is assembled here from the same parts with the same defaults.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, KeepAlive, Request, Response};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::dev::AppConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The statuses actix-http answers on its own when it gives up on a connection.
const OWN_STATUSES: [&[u8]; 3] = [b"HTTP/1.1 400 ", b"HTTP/1.1 408 ", b"HTTP/1.1 431 "];

/// Binds `addr` and serves it with `workers` threads, each running the app `factory` builds.
pub fn serve<F, I, S, B>(
    addr: SocketAddr,
    workers: usize,
    factory: F,
) -> io::Result<actix_server::Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    Ok(actix_server::Server::build()
        .workers(workers)
        .backlog(4096)
        .bind("gatehouse", addr, move || {
            let app = factory()
                .into_factory()
                .map_err(|e| e.into().error_response());
            // actix-web's HttpServer defaults, and no half-closed connections: a client that
            // closes its side has gone, so its request is dropped at once (and any password
            // hash it queued is skipped).
            let http = HttpService::build()
                .keep_alive(KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(false)
                .h1(map_config(app, |_| AppConfig::default()));
            fn_service(|io: TcpStream| async move {
                let peer = io.peer_addr().ok();
                Ok((ClosingConnection::new(io), peer))
            })
            .and_then(http)
        })?
        .run())
}

/// A TCP connection whose outgoing bytes get `connection: close` in actix-http's own answers.
pub struct ClosingConnection<T> {
    io: T,
    /// Rewritten bytes not yet written to `io` (the caller was told they were).
    pending: Vec<u8>,
    written: usize,
}

impl<T> ClosingConnection<T> {
    pub fn new(io: T) -> Self {
        ClosingConnection {
            io,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// `buf` with `connection: close` added when it starts with one of actix-http's own answers.
fn with_close(buf: &[u8]) -> Option<Vec<u8>> {
    if !OWN_STATUSES.iter().any(|s| buf.starts_with(s)) {
        return None;
    }
    let line_end = buf.windows(2).position(|w| w == b"\r\n")? + 2;
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |i| i + 4);
    let head = buf[..head_end].to_ascii_lowercase();
    let has = |name: &[u8]| head.windows(name.len()).any(|w| w == name);
    if has(b"\r\nx-amzn-requestid:") || has(b"\r\nconnection:") {
        return None;
    }
    let mut out = Vec::with_capacity(buf.len() + 19);
    out.extend_from_slice(&buf[..line_end]);
    out.extend_from_slice(b"connection: close\r\n");
    out.extend_from_slice(&buf[line_end..]);
    Some(out)
}

impl<T: AsyncWrite + Unpin> ClosingConnection<T> {
    /// Writes out what was rewritten earlier; Ready once nothing is left.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = match Pin::new(&mut self.io).poll_write(cx, &self.pending[self.written..]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ClosingConnection<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ClosingConnection<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some(rewritten) = with_close(buf) {
            // Taken whole: the rest goes out on the next write, flush or shutdown.
            this.pending = rewritten;
            let _ = this.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.io).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.io).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actix_http_answers_get_connection_close() {
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(
            with_close(own).unwrap(),
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n"
        );
        assert!(with_close(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n").is_some());
        // The service's own answers, and those that already say, are left alone.
        let service = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-requestid: r\r\n\r\n{}";
        assert!(with_close(service).is_none());
        assert!(with_close(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n").is_none());
        assert!(with_close(b"HTTP/1.1 200 OK\r\n\r\n").is_none());
    }
}
