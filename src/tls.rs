//! The OS trust store, read the way OpenSSL reads it: the CA bundle first, and the hashed
//! certificate directories only for a server whose issuer the bundle lacks.
//!
//! minreq's own choice, rustls-platform-verifier, reads the bundle and then every file in
//! `/etc/ssl/certs`, the same certificates twice, before the first byte goes out: 3.6 ms
//! of a `send` on an idle 2-core machine and about 7 ms under load (bench/). Here the bundle
//! is read on a thread started with the first https request, while TCP connects and the
//! ClientHello goes out, so over a real network it costs nothing. The verification itself is
//! webpki's, unchanged, against the same certificates: `SSL_CERT_FILE` and `SSL_CERT_DIR`
//! are honoured as rustls-native-certs honours them. On macOS, whose trust store is the
//! keychain, minreq's platform verifier stays.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Makes every https request of this process use ring and the lazily read trust store.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // ring, not aws-lc, whose entropy seeding cost 44-62 ms on a process's first TLS use.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // macOS keeps its trust store in the keychain, which only minreq's platform verifier
        // reads; there is no bundle file to read early.
        if cfg!(target_vendor = "apple") {
            return;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(Lazy::start(provider.clone(), Sources::find()));
        // Without a configuration of ours, minreq's own (the platform verifier) stays.
        if let Ok(builder) = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            // "dangerous" only in that the verifier is ours; it hands every check to webpki.
            let config = builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            minreq::set_client_config(Arc::new(config));
        }
    });
}

/// What a refused server certificate means, with the fix; `None` for other errors.
pub fn explain(err: &minreq::Error) -> Option<String> {
    let tls = match err {
        minreq::Error::IoError(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        minreq::Error::RustlsCreateConnection(tls) => tls,
        _ => return None,
    };
    let why = match tls {
        rustls::Error::InvalidCertificate(why) => why,
        // Our own "no usable CA certificates" already names the fix.
        rustls::Error::General(message) => return Some(format!("TLS: {message}")),
        _ => return None,
    };
    let hint = match why {
        CertificateError::UnknownIssuer => {
            "it is signed by a CA this machine does not trust; add that CA to the system trust \
             store, or set SSL_CERT_FILE to a bundle that holds it"
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => {
            "it is expired or not yet valid; check this machine's clock, or the server's \
             certificate (a proxy that intercepts TLS needs its CA in SSL_CERT_FILE)"
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "it is not for this host; check dispatch.apiUrl (a proxy that intercepts TLS needs \
             its CA in SSL_CERT_FILE)"
        }
        _ => "check the server, or set SSL_CERT_FILE to a bundle with its CA",
    };
    let name = format!("{why:?}");
    let name = name.split([' ', '{', '(']).next().unwrap_or_default();
    // rustls says `ExpiredContext` where it has the times: the README's name is `Expired`.
    let name = name.strip_suffix("Context").unwrap_or(name);
    Some(format!(
        "TLS: the server's certificate was refused ({name}): {hint}"
    ))
}

/// Where the trust store lives.
#[derive(Debug, Clone)]
struct Sources {
    file: Option<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Sources {
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set, else the system's usual paths.
    fn find() -> Self {
        let file = std::env::var_os(crate::env::SSL_CERT_FILE).map(PathBuf::from);
        let dirs: Vec<PathBuf> = std::env::var_os(crate::env::SSL_CERT_DIR)
            .map(|d| {
                std::env::split_paths(&d)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if file.is_some() || !dirs.is_empty() {
            return Sources { file, dirs };
        }
        let probe = openssl_probe::probe();
        Sources {
            file: probe.cert_file,
            dirs: probe.cert_dir,
        }
    }

    /// The bundle alone, if there is one; otherwise everything.
    fn first(&self) -> Vec<CertificateDer<'static>> {
        match &self.file {
            Some(file) => rustls_native_certs::load_certs_from_paths(Some(file), None).certs,
            None => self.all(),
        }
    }

    /// Whether `all` holds more than `first`.
    fn more(&self) -> bool {
        self.file.is_some() && !self.dirs.is_empty()
    }

    /// The bundle and every directory. Each file is read once: the directory's links to the
    /// bundle's certificates are skipped by identity within one call.
    fn all(&self) -> Vec<CertificateDer<'static>> {
        if self.dirs.is_empty() {
            return rustls_native_certs::load_certs_from_paths(self.file.as_deref(), None).certs;
        }
        let mut certs = Vec::new();
        for (i, dir) in self.dirs.iter().enumerate() {
            let file = if i == 0 { self.file.as_deref() } else { None };
            certs.extend(rustls_native_certs::load_certs_from_paths(file, Some(dir)).certs);
        }
        certs
    }
}

type Built = Result<Arc<WebPkiServerVerifier>, rustls::Error>;

fn build(provider: &Arc<CryptoProvider>, certs: Vec<CertificateDer<'static>>) -> Built {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certs);
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|err| {
            rustls::Error::General(format!(
                "no usable CA certificates in the system trust store ({err}); \
                 install ca-certificates or set SSL_CERT_FILE"
            ))
        })
}

/// webpki over the trust store, read when first needed and only as far as needed.
#[derive(Debug)]
struct Lazy {
    provider: Arc<CryptoProvider>,
    sources: Sources,
    /// The process that started `loading`: a forked child (the waiter) has no such thread.
    owner: u32,
    loading: Mutex<Option<JoinHandle<Built>>>,
    first: OnceLock<Built>,
    all: OnceLock<Built>,
}

impl Lazy {
    /// Starts reading the bundle in the background.
    fn start(provider: Arc<CryptoProvider>, sources: Sources) -> Self {
        let loading = {
            let (provider, sources) = (provider.clone(), sources.clone());
            std::thread::Builder::new()
                .name("trust-store".into())
                .spawn(move || build(&provider, sources.first()))
                .ok()
        };
        Lazy {
            provider,
            sources,
            owner: std::process::id(),
            loading: Mutex::new(loading),
            first: OnceLock::new(),
            all: OnceLock::new(),
        }
    }

    fn first(&self) -> Built {
        self.first
            .get_or_init(|| {
                let mut loading = self.loading.lock().ok().and_then(|mut h| h.take());
                if std::process::id() != self.owner {
                    // Joining a thread of the parent would panic; leave its handle alone.
                    std::mem::forget(loading.take());
                }
                match loading.map(JoinHandle::join) {
                    Some(Ok(built)) => built,
                    // The thread could not start (or died): read it here.
                    _ => build(&self.provider, self.sources.first()),
                }
            })
            .clone()
    }

    fn all(&self) -> Built {
        self.all
            .get_or_init(|| build(&self.provider, self.sources.all()))
            .clone()
    }
}

impl ServerCertVerifier for Lazy {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verify = |verifier: Built| {
            verifier?.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        };
        match verify(self.first()) {
            // What OpenSSL does with its CA directory: look there only for an unknown issuer.
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))
            | Err(rustls::Error::General(_))
                if self.sources.more() =>
            {
                verify(self.all())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
