//! The SSRF guard: article links come from feeds, which anyone can write, so before feedwatch
//! connects to an address a link leads to, the address must be globally reachable — outside
//! every range the IANA special-purpose registries mark otherwise (loopback, private,
//! link-local, CGNAT, documentation, benchmarking, local-use NAT64…), and not multicast — in
//! IPv4 or IPv6, including IPv4 addresses wrapped in IPv6 (mapped, NAT64, 6to4), unless the
//! operator allowed its range (`allow_private`). Checks happen on resolved addresses (in the
//! resolver, so DNS rebinding gets no second look) and on literal-IP hosts, which never reach a
//! resolver. Only the hosts the operator wrote (configured feeds and webhooks) skip it; a
//! feed's redirect or stored new location on another host is checked on every request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Decides which addresses article fetches may connect to.
#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allowed: Vec<IpNet>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid CIDR `{0}` in allow_private (write e.g. \"10.0.0.0/8\" or \"127.0.0.1/32\")")]
pub struct InvalidCidr(pub String);

impl AddressGuard {
    pub fn new(allow_private: &[String]) -> Result<Self, InvalidCidr> {
        let allowed = allow_private
            .iter()
            .map(|cidr| {
                cidr.parse::<IpNet>()
                    .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidCidr(cidr.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allowed })
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_non_public(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }
}

/// True for every address that is not a routable public unicast address.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_non_public_v4(v4),
        IpAddr::V6(v6) => is_non_public_v6(v6),
    }
}

/// The IANA IPv4 Special-Purpose Address Registry's ranges that are not globally reachable
/// (plus multicast, which is not unicast at all). Ranges the registry marks globally reachable
/// (AS112, AMT) are public services and stay allowed.
const SPECIAL_V4: &[&str] = &[
    "0.0.0.0/8",          // "this network"
    "10.0.0.0/8",         // private
    "100.64.0.0/10",      // shared address space (CGNAT)
    "127.0.0.0/8",        // loopback
    "169.254.0.0/16",     // link-local (cloud metadata lives here)
    "172.16.0.0/12",      // private
    "192.0.0.0/24",       // IETF protocol assignments
    "192.0.2.0/24",       // documentation (TEST-NET-1)
    "192.88.99.0/24",     // deprecated 6to4 relay anycast
    "192.168.0.0/16",     // private
    "198.18.0.0/15",      // benchmarking
    "198.51.100.0/24",    // documentation (TEST-NET-2)
    "203.0.113.0/24",     // documentation (TEST-NET-3)
    "224.0.0.0/4",        // multicast
    "240.0.0.0/4",        // reserved for future use
    "255.255.255.255/32", // limited broadcast
];

/// The IANA IPv6 Special-Purpose Address Registry's ranges that are not globally reachable,
/// plus multicast and the deprecated site-local range. The ranges that embed an IPv4 address
/// (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96, 6to4) are judged by that address instead,
/// in [`is_non_public_v6`].
const SPECIAL_V6: &[&str] = &[
    "::/128",         // unspecified
    "::1/128",        // loopback
    "64:ff9b:1::/48", // local-use IPv4/IPv6 translation (RFC 8215): any v4 behind it
    "100::/64",       // discard-only
    "100:0:0:1::/64", // dummy prefix (RFC 9780)
    "2001::/23",      // IETF protocol assignments: Teredo, benchmarking, ORCHID…
    "2001:db8::/32",  // documentation
    "3fff::/20",      // documentation (RFC 9637)
    "5f00::/16",      // segment routing SIDs (RFC 9602)
    "fc00::/7",       // unique local
    "fe80::/10",      // link-local
    "fec0::/10",      // site-local (deprecated, still routed by some stacks)
    "ff00::/8",       // multicast
];

fn special_ranges(list: &[&str]) -> Vec<IpNet> {
    list.iter().filter_map(|cidr| cidr.parse().ok()).collect()
}

static SPECIAL_V4_NETS: LazyLock<Vec<IpNet>> = LazyLock::new(|| special_ranges(SPECIAL_V4));
static SPECIAL_V6_NETS: LazyLock<Vec<IpNet>> = LazyLock::new(|| special_ranges(SPECIAL_V6));

fn is_non_public_v4(ip: Ipv4Addr) -> bool {
    let ip = IpAddr::V4(ip);
    SPECIAL_V4_NETS.iter().any(|net| net.contains(&ip))
}

fn is_non_public_v6(ip: Ipv6Addr) -> bool {
    // Addresses that carry an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_non_public_v4(v4);
    }
    let segments = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    // NAT64 64:ff9b::/96 (the well-known prefix) reaches the embedded IPv4 address.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_non_public_v4(embedded_v4(segments[6], segments[7]));
    }
    // 6to4 2002::/16 embeds the IPv4 address in the next 32 bits.
    if segments[0] == 0x2002 {
        return is_non_public_v4(embedded_v4(segments[1], segments[2]));
    }
    // IPv4-compatible ::a.b.c.d (deprecated, but routable to the v4 address on some stacks).
    if segments[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        return is_non_public_v4(embedded_v4(segments[6], segments[7]));
    }
    let ip = IpAddr::V6(ip);
    SPECIAL_V6_NETS.iter().any(|net| net.contains(&ip))
}

/// A resolver that drops every address the guard does not permit, so the HTTP client can only
/// connect to what passed the check.
pub struct GuardedResolver {
    pub guard: Arc<AddressGuard>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| guard.permits(a.ip()))
                .collect();
            if permitted.is_empty() && !found.is_empty() {
                let message = format!(
                    "{host} resolves only to non-public addresses ({}); not fetched (see allow_private)",
                    found[0].ip()
                );
                return Err(message.into());
            }
            let addrs: Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn non_public(text: &str) -> bool {
        is_non_public(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_ranges_are_caught() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "::127.0.0.1",
            "100::1",
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff::1",
            "100:0:0:1::7",
            "2001:2::1",
            "2001:10::1",
            "2001:1ff::1",
            "3fff::1",
            "5f00::1",
            "fec0::1",
            "192.88.99.1",
            "198.19.255.255",
            "0.0.0.1",
        ] {
            assert!(non_public(ip), "{ip} should be non-public");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
            "2001:200::1",
            "2620:4f:8000::1",
            "192.31.196.1",
            "192.175.48.1",
            "64:ff9b:2::1",
        ] {
            assert!(!non_public(ip), "{ip} should be public");
        }
    }

    #[test]
    fn allow_private_opens_only_its_ranges() {
        let guard =
            AddressGuard::new(&["127.0.0.1/32".into(), "10.0.0.0/8".into(), "::1".into()]).unwrap();
        assert!(guard.permits("127.0.0.1".parse().unwrap()));
        assert!(!guard.permits("127.0.0.2".parse().unwrap()));
        assert!(guard.permits("10.9.9.9".parse().unwrap()));
        assert!(guard.permits("::1".parse().unwrap()));
        assert!(!guard.permits("192.168.0.1".parse().unwrap()));
        assert!(guard.permits("8.8.8.8".parse().unwrap()));
        assert!(AddressGuard::new(&["nonsense".into()]).is_err());
    }

    #[test]
    fn numeric_host_tricks_are_normalised_by_url_parsing() {
        // The WHATWG URL parser turns these spellings into the IPv4 address they mean, so the
        // literal-host check sees 127.0.0.1 whichever way it was written.
        for spelling in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://0177.0.0.1/",
        ] {
            let url = url::Url::parse(spelling).unwrap();
            assert_eq!(url.host_str(), Some("127.0.0.1"), "{spelling}");
        }
    }
}
