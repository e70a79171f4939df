//! The SSRF guard: article links come from feeds, which anyone can write, so before feedwatch
//! connects to an address a link leads to, the address must be public — not loopback, private,
//! link-local, CGNAT, multicast or reserved, in IPv4 or IPv6, including IPv4 addresses wrapped
//! in IPv6 (mapped, NAT64, 6to4) — unless the operator allowed its range (`allow_private`).
//! Checks happen on resolved addresses (in the resolver, so DNS rebinding gets no second look)
//! and on literal-IP hosts, which never reach a resolver. Feed and webhook URLs from the config
//! are trusted and never pass through here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

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

fn is_non_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved 240.0.0.0/4
}

fn is_non_public_v6(ip: Ipv6Addr) -> bool {
    // Addresses that carry an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_non_public_v4(v4);
    }
    let segments = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    // NAT64 64:ff9b::/96
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
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo tunnels
        || segments[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
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
