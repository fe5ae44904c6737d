//! Writes the benchmark's GeoIP database: a real MaxMind DB in the
//! GeoLite2-Country layout, which both the gateway and nginx's geoip2 module
//! read, mapping the networks given to countries.
//!
//! Usage: `bench-geoip OUT.mmdb CIDR=CC...`

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, entries)) = args.split_first() else {
        anyhow::bail!("usage: bench-geoip OUT.mmdb CIDR=CC...");
    };
    let mut writer = mmdb_writer::Writer::new("GeoLite2-Country");
    for entry in entries {
        let (network, country) = entry
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{entry:?}: expected CIDR=CC"))?;
        let network: ipnet::IpNet = network.parse()?;
        let record = serde_json::json!({
            "country": { "iso_code": country, "names": { "en": country } }
        });
        writer.insert(network, &record)?;
    }
    std::fs::write(out, writer.to_bytes()?)?;
    Ok(())
}
