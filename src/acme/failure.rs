//! Why an ACME order failed: the step it failed at (the metric's `reason`)
//! and a sentence for the operator naming what to check.

use crate::observe::escape::escape;

/// The step of an order that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The directory could not be fetched: the CA is unreachable, or its
    /// HTTPS certificate is not trusted.
    Directory,
    /// The account could not be made (External Account Binding refused, terms...).
    Account,
    /// The CA refused the order.
    Order,
    /// The DNS server refused or did not answer the TXT update.
    DnsUpdate,
    /// The CA could not validate a challenge.
    Challenge,
    /// Finalizing (the CSR) or downloading the certificate failed.
    Finalize,
    /// The issued certificate did not pass the gateway's own checks.
    Certificate,
    /// The state folder could not be written.
    Storage,
}

impl Step {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Step::Directory => "directory",
            Step::Account => "account",
            Step::Order => "order",
            Step::DnsUpdate => "dns_update",
            Step::Challenge => "challenge",
            Step::Finalize => "finalize",
            Step::Certificate => "certificate",
            Step::Storage => "storage",
        }
    }
}

/// A failed order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ACME order failed at {step}: {text}", step = .step.label())]
pub struct OrderFailure {
    /// Where it failed.
    pub step: Step,
    /// What happened, for the operator.
    pub text: String,
}

impl OrderFailure {
    /// A failure at `step`.
    pub fn new(step: Step, text: impl Into<String>) -> OrderFailure {
        OrderFailure {
            step,
            text: text.into(),
        }
    }

    /// An instant-acme error at `step`; a CA problem document keeps its type
    /// and detail, escaped and bounded like any text from outside.
    pub fn from_acme(step: Step, error: &instant_acme::Error) -> OrderFailure {
        let text = match error {
            instant_acme::Error::Api(problem) => format!(
                "the CA answered {}: {}",
                escape(problem.r#type.as_deref().unwrap_or("an error")),
                escape(problem.detail.as_deref().unwrap_or("(no detail)"))
            ),
            other => {
                // hyper's errors say "client error (Connect)"; the cause says why.
                let mut text = other.to_string();
                let mut source = std::error::Error::source(other);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                escape(&text)
            }
        };
        OrderFailure::new(step, text)
    }
}
