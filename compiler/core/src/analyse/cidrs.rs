//! E201: networks that must be disjoint overlap: the entries of one `cidr-set`,
//! and on a host its Docker address pools against each other, against the host's
//! own addresses and against the networks its firewall rules name.

use ipnet::IpNet;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::Model;
use crate::source::{Span, Spanned};

pub fn check_overlapping_cidrs(model: &Model, diagnostics: &mut Diagnostics) {
    for set in &model.cidr_sets {
        for (index, later) in set.cidrs.iter().enumerate() {
            if let Some(earlier) = set.cidrs[..index]
                .iter()
                .find(|e| overlap(e.value, later.value))
            {
                diagnostics.push(overlapping(
                    later,
                    earlier.span,
                    &format!(
                        "`{}` overlaps `{}` in set `{}`",
                        later.value, earlier.value, set.name.value
                    ),
                    "a set lists each network once; keep the larger network or split the ranges",
                ));
            }
        }
    }
    for host in &model.hosts {
        let pools = &host.address_pools;
        for (index, pool) in pools.iter().enumerate() {
            if let Some(earlier) = pools[..index]
                .iter()
                .find(|e| overlap(e.base.value, pool.base.value))
            {
                diagnostics.push(overlapping(
                    &pool.base,
                    earlier.base.span,
                    &format!(
                        "address pool `{}` overlaps pool `{}`",
                        pool.base.value, earlier.base.value
                    ),
                    "Docker would hand out the same network twice; make the pools disjoint",
                ));
            }
            if let Some(address) = host
                .addresses
                .iter()
                .find(|a| pool.base.value.contains(&a.value))
            {
                diagnostics.push(overlapping(
                    &pool.base,
                    address.span,
                    &format!("address pool `{}` contains the host's address `{}`", pool.base.value, address.value),
                    "a bridge network in this range would hide the host's own network; pick a range the host does not use",
                ));
            }
            let sources = host
                .ssh
                .allow_from
                .iter()
                .chain(host.firewall.allows.iter().filter_map(|a| a.from.as_ref()));
            for source in sources {
                let networks = model.networks_of(source).unwrap_or_default();
                if let Some(net) = networks.iter().find(|n| overlap(**n, pool.base.value)) {
                    diagnostics.push(overlapping(
                        &pool.base,
                        source.span(),
                        &format!("address pool `{}` overlaps `{net}`, which a firewall rule admits", pool.base.value),
                        "packets from those clients would be routed into a container network; pick a pool outside the networks your rules name",
                    ));
                }
            }
        }
    }
}

fn overlap(a: IpNet, b: IpNet) -> bool {
    a.contains(&b) || b.contains(&a)
}

fn overlapping(later: &Spanned<IpNet>, earlier: Span, message: &str, help: &str) -> Diagnostic {
    Diagnostic::new(Code::E201, message, later.span, "overlaps")
        .with_secondary(earlier, "overlapped here")
        .with_help(help)
}
