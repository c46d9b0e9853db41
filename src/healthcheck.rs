//! `seccfg healthcheck`: the container's HEALTHCHECK and the ECS health check,
//! so the runtime image needs no curl or shell. It sends one HTTP/1.0 GET to the
//! server's own bound port on loopback and exits 0 only on a 200 answer within
//! the timeout. One plain request over a socket does not justify an HTTP client
//! dependency in the server binary.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where to probe: a wildcard bind address is reached through loopback.
pub fn target(bind: SocketAddr) -> SocketAddr {
    match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), bind.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), bind.port()),
        _ => bind,
    }
}

/// GETs `path` and returns the status code.
pub async fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<u16> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await?;
        let mut head = Vec::with_capacity(64);
        let mut buf = [0u8; 64];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let code = line.split_whitespace().nth(1).and_then(|c| c.parse().ok());
        code.ok_or_else(|| anyhow::anyhow!("not an HTTP answer: {:?}", line.lines().next().unwrap_or("")))
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))?
}
