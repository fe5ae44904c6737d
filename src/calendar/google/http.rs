//! The HTTP clients the Google backend talks through: one connector (rustls
//! with the aws-lc-rs provider and the system's CA certificates) shared by the
//! token client and the API client.

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// HTTPS (or, for loopback test servers, plain HTTP) connector.
pub type Connector = HttpsConnector<HttpConnector>;
/// Client for token endpoints (string bodies, as yup-oauth2 wants).
pub type TokenClient = Client<Connector, String>;
/// Client google-calendar3's hub sends API calls with.
pub type ApiClient = google_calendar3::common::Client<Connector>;

/// The connector; `https_needed` is false only when every endpoint is a
/// loopback HTTP address, so a machine without CA certificates can still run tests.
pub fn connector(https_needed: bool) -> anyhow::Result<Connector> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let builder = match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider) {
        Ok(builder) => builder,
        Err(e) if https_needed => {
            anyhow::bail!("backend.google: cannot load the system CA certificates: {e}")
        }
        Err(_) => {
            let config = rustls::ClientConfig::builder_with_provider(
                rustls::crypto::aws_lc_rs::default_provider().into(),
            )
            .with_safe_default_protocol_versions()?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    // hyper's connector leaves Nagle on: a small request would wait for the
    // previous segment's delayed ACK.
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    Ok(builder
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http))
}

/// The token client over `connector`.
pub fn token_client(connector: Connector) -> TokenClient {
    Client::builder(TokioExecutor::new()).build(connector)
}

/// The API client over `connector`.
pub fn api_client(connector: Connector) -> ApiClient {
    Client::builder(TokioExecutor::new()).build(connector)
}
