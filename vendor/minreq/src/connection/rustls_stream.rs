//! TLS connection handling functionality when using the `rustls` crate for
//! handling TLS.

use rustls::pki_types::ServerName;
use rustls::{self, ClientConfig, ClientConnection, StreamOwned};
use std::convert::TryFrom;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{Arc, LazyLock};

use crate::Error;

use super::{Connection, HttpStream};

pub type SecuredStream = StreamOwned<ClientConnection, TcpStream>;

// This code requires the `rustls` feature to be enabled, so minreq's MSRV
// policy doesn't apply here. LazyLock was added in 1.80, which should be old
// enough for rustls users, given that it's old enough for rustls's
// at-least-9-rust-versions-old MSRV policy.
#[allow(clippy::incompatible_msrv)]
static CONFIG: LazyLock<Result<Arc<ClientConfig>, rustls::Error>> = LazyLock::new(|| {
    let config = ClientConfig::builder();

    #[cfg(feature = "rustls-webpki")]
    let config = config.with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    });

    #[cfg(all(feature = "rustls-platform-verifier", not(feature = "rustls-webpki")))]
    let config = {
        use rustls_platform_verifier::BuilderVerifierExt;
        config.with_platform_verifier()?
    };

    let config = config.with_no_client_auth();
    Ok(Arc::new(config))
});

// git-dispatch: a configuration the caller sets once, used instead of CONFIG. git-dispatch
// gives its own server verifier, which reads the OS trust store lazily.
static CUSTOM: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();

/// Uses `config` for every https request from now on (instead of the built-in
/// configuration); returns false if one was set already, which stays.
pub fn set_client_config(config: Arc<ClientConfig>) -> bool {
    CUSTOM.set(config).is_ok()
}

pub fn create_secured_stream(conn: &Connection) -> Result<HttpStream, Error> {
    // Rustls setup
    #[cfg(feature = "log")]
    log::trace!("Setting up TLS parameters for {}.", conn.request.url.host);
    let dns_name = match ServerName::try_from(conn.request.url.host.clone()) {
        Ok(result) => result,
        Err(err) => return Err(Error::IoError(io::Error::new(io::ErrorKind::Other, err))),
    };
    let config = match CUSTOM.get() {
        Some(config) => config.clone(),
        None => CONFIG.clone().map_err(Error::RustlsCreateConnection)?,
    };
    let sess = ClientConnection::new(config, dns_name).map_err(Error::RustlsCreateConnection)?;

    // Connect
    #[cfg(feature = "log")]
    log::trace!("Establishing TCP connection to {}.", conn.request.url.host);
    let tcp = conn.connect()?;

    // Send request
    #[cfg(feature = "log")]
    log::trace!("Establishing TLS session to {}.", conn.request.url.host);
    let mut tls = StreamOwned::new(sess, tcp); // I don't think this actually does any communication.
    #[cfg(feature = "log")]
    log::trace!("Writing HTTPS request to {}.", conn.request.url.host);
    let _ = tls.get_ref().set_write_timeout(conn.timeout()?);
    tls.write_all(&conn.request.as_bytes())?;

    Ok(HttpStream::create_secured(tls, conn.timeout_at))
}
