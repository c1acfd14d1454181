//! TLS to the PostgreSQL server, with rustls (never OpenSSL: deny.toml), as
//! the URL's `sslmode` asks:
//!
//! - `disable`: no TLS.
//! - `prefer` (the default): TLS if the server offers it, else none; the
//!   certificate is not verified, as libpq's `prefer` does not verify it.
//!   This keeps every server the store reached before reachable (a server
//!   with a self-signed certificate, such as Debian's default one), and
//!   protects against a listener, not against an impostor.
//! - `require`: TLS or no connection, and the certificate verified: signed
//!   by one of the platform's CAs or by the `--database-ca-file`, for the
//!   host the URL names. Stricter than libpq's `require` (which verifies only
//!   when given a root certificate): it is libpq's `verify-full`, the safe
//!   choice whenever TLS is asked for at all.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::storage::StorageError;

/// The TLS connector for `mode`, or None for no TLS at all.
pub(super) fn connector(
    mode: SslMode,
    ca_file: Option<&Path>,
) -> Result<Option<MakeRustlsConnect>, StorageError> {
    // Set here rather than process-wide: the tests' builds have aws-lc-rs in
    // rustls too (reqwest's), and rustls will not pick between two itself.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring's default provider has what TLS 1.2 and 1.3 need");
    let config = match mode {
        SslMode::Disable => {
            return match ca_file {
                Some(_) => Err(StorageError::CaFileUnused("disable")),
                None => Ok(None),
            };
        }
        SslMode::Require => builder
            .with_root_certificates(roots(ca_file)?)
            .with_no_client_auth(),
        // SslMode is non-exhaustive; what is not `require` asks for no
        // verification, as `prefer` does.
        _ => {
            if ca_file.is_some() {
                return Err(StorageError::CaFileUnused("prefer"));
            }
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
                .with_no_client_auth()
        }
    };
    Ok(Some(MakeRustlsConnect::new(config)))
}

/// Says, of a failure to connect that TLS caused, what a certificate must be:
/// rustls's own words ("invalid peer certificate: UnknownIssuer") name the
/// cause but not the remedy.
pub(super) fn explain(error: StorageError) -> StorageError {
    let (StorageError::Unavailable(cause) | StorageError::Database(cause)) = &error else {
        return error;
    };
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&**cause);
    while let Some(current) = next {
        // tokio-rustls hands rustls's error on inside an io::Error, whose
        // source() skips it.
        let tls = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(tls) = tls {
            return StorageError::Handshake(tls.clone());
        }
        next = current.source();
    }
    error
}

/// The platform's CA certificates (SSL_CERT_FILE, else /etc/ssl/certs and
/// the like) and the CA file's.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, StorageError> {
    let mut roots = RootCertStore::empty();
    // A platform without CA certificates (an image FROM scratch without a
    // bundle) is no error when the CA file is given: it may be all there is.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let ca_error = |error: String| StorageError::CaFile {
            path: path.to_owned(),
            message: error,
        };
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|error| ca_error(error.to_string()))?;
        if certificates.is_empty() {
            return Err(ca_error("it holds no PEM certificate".to_owned()));
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| ca_error(error.to_string()))?;
        }
    }
    if roots.is_empty() {
        return Err(StorageError::NoRoots);
    }
    Ok(roots)
}

/// Accepts any certificate, for `prefer` only: the handshake's own
/// signatures are still checked (the session is encrypted to whoever holds
/// the certificate's key), but not who that is.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
