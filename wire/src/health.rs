//! The health check both images run: their final stage is `FROM scratch`, with
//! no curl for a HEALTHCHECK, so each binary asks its own `/healthz`. Plain
//! `std`, so that it costs the wire crate no dependency.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// What each binary's `healthcheck` subcommand does: exits 0 when `url`
/// answers 200, and otherwise says why on stderr and exits 1.
pub fn exit_code(url: &str) -> ExitCode {
    match check(url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("unhealthy: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Succeeds when `url` (http only) answers 200; the error says why not.
fn check(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs can be checked"))?;
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, format!("/{path}")),
        None => (rest, "/".to_owned()),
    };
    let failed = |what: &str, error: std::io::Error| format!("{url}: {what}: {error}");
    let address = authority
        .to_socket_addrs()
        .map_err(|e| failed("cannot resolve the host", e))?
        .next()
        .ok_or_else(|| format!("{url}: {authority} has no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&address, TIMEOUT).map_err(|e| failed("cannot connect", e))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| failed("cannot set a timeout", e))?;
    // One write: a server may answer and close after reading the first piece.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| failed("cannot send the request", e))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| failed("no answer", e))?;
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!("{url} answered {status_line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn answer_once(reply: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/healthz", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            stream.write_all(reply.as_bytes()).unwrap();
        });
        url
    }

    #[test]
    fn a_200_is_healthy_and_anything_else_is_not() {
        assert_eq!(check(&answer_once("HTTP/1.1 200 OK\r\n\r\nok")), Ok(()));
        let error = check(&answer_once("HTTP/1.1 503 Service Unavailable\r\n\r\n")).unwrap_err();
        assert!(error.contains("503"), "{error}");
    }

    #[test]
    fn nobody_listening_and_other_schemes_are_errors() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = check(&format!("http://127.0.0.1:{port}/healthz")).unwrap_err();
        assert!(error.contains("cannot connect"), "{error}");
        assert!(check("https://example.invalid/").is_err());
    }
}
