//! Which topics to subscribe to, and how each topic's payload is encoded. The four topics
//! and their encodings are Centiloc's (SPEC: Facts about the Centiloc side).

use crate::error::{Error, Result};

pub use crate::decode::{Encoding, Kind};

/// One topic filter to subscribe to, with the encoding of what arrives on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The filter sent in SUBSCRIBE (with `$share/GROUP/` when shared).
    pub filter: String,
    /// `None` for a custom topic whose encoding we cannot tell: sniffed per message.
    pub encoding: Option<Encoding>,
}

/// The Centiloc topic for `kind` in `encoding`. Item/protobuf keeps the legacy name.
pub fn centiloc_topic(tenant: &str, kind: Kind, encoding: Encoding) -> String {
    match (kind, encoding) {
        (Kind::Item, Encoding::Proto) => format!("centiloc/{tenant}"),
        (Kind::Item, Encoding::Json) => format!("centiloc/{tenant}/json/item/v1/update"),
        (Kind::Board, Encoding::Proto) => format!("centiloc/{tenant}/proto/board/v1/update"),
        (Kind::Board, Encoding::Json) => format!("centiloc/{tenant}/json/board/v1/update"),
    }
}

/// The encoding Centiloc uses on `topic` (SPEC: Facts about the Centiloc side):
/// `.../json/...` is JSON; `.../proto/...` and the legacy `centiloc/<tenant>` are
/// protobuf. A shared-subscription prefix `$share/<group>/` is ignored. `None` for a
/// topic that says nothing.
pub fn encoding_of(topic: &str) -> Option<Encoding> {
    let levels = levels(topic);
    if levels.contains(&"json") {
        Some(Encoding::Json)
    } else if levels.contains(&"proto") || is_legacy(&levels) {
        Some(Encoding::Proto)
    } else {
        None
    }
}

/// The kind of event Centiloc sends on `topic`: a `board` level is a board topic; the
/// legacy `centiloc/<tenant>` and an `item` level are item topics. `None` for a topic
/// that says neither.
pub fn kind_of(topic: &str) -> Option<Kind> {
    let levels = levels(topic);
    if levels.contains(&"board") {
        Some(Kind::Board)
    } else if levels.contains(&"item") || is_legacy(&levels) {
        Some(Kind::Item)
    } else {
        None
    }
}

/// The levels of `topic` without a shared-subscription prefix `$share/<group>/`.
fn levels(topic: &str) -> Vec<&str> {
    let topic = match topic.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or("", |(_, t)| t),
        None => topic,
    };
    topic.split('/').collect()
}

/// The legacy item/protobuf topic `centiloc/<tenant>`.
fn is_legacy(levels: &[&str]) -> bool {
    matches!(levels, ["centiloc", tenant] if !tenant.is_empty())
}

/// The encoding of a message: the topic's, else the one given for its subscription.
pub fn encoding_for(subs: &[Subscription], topic: &str) -> Option<Encoding> {
    encoding_of(topic).or_else(|| match subs {
        [one] => one.encoding,
        _ => subs
            .iter()
            .find(|s| s.filter == topic || s.filter.ends_with(&format!("/{topic}")))
            .and_then(|s| s.encoding),
    })
}

/// What the user asked for on the command line, before validation.
#[derive(Debug, Clone, Default)]
pub struct TopicChoice {
    pub kinds: Vec<Kind>,
    pub encodings: Vec<Encoding>,
    pub custom: Vec<String>,
    pub share: Option<String>,
}

/// The subscriptions for `choice`: the Centiloc topics narrowed by kind and encoding (all
/// four by default), or the custom topics, each behind `$share/GROUP/` when asked.
pub fn subscriptions(tenant: &str, choice: &TopicChoice) -> Result<Vec<Subscription>> {
    if let Some(group) = &choice.share {
        // Centiloc requires shared-subscription groups to be prefixed by the tenant ID.
        if !group.starts_with(tenant) || group.contains(['/', '+', '#']) {
            return Err(Error::invalid(
                "share group",
                group,
                format!(
                    "Centiloc requires the group to start with the tenant ID {tenant:?} and to contain no '/', '+' or '#', e.g. {tenant}-consumers"
                ),
            ));
        }
    }
    let wrap = |t: String| match &choice.share {
        Some(g) => format!("$share/{g}/{t}"),
        None => t,
    };
    let mut subs = Vec::new();
    if choice.custom.is_empty() {
        let kinds = or_all(&choice.kinds, &[Kind::Item, Kind::Board]);
        let encs = or_all(&choice.encodings, &[Encoding::Proto, Encoding::Json]);
        for &k in &kinds {
            for &e in &encs {
                subs.push(Subscription {
                    filter: wrap(centiloc_topic(tenant, k, e)),
                    encoding: Some(e),
                });
            }
        }
    } else {
        // A single --encoding names the custom topics' encoding; otherwise the topic tells.
        let forced = match choice.encodings.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        for t in &choice.custom {
            if t.is_empty() {
                return Err(Error::invalid("topic", t, "a topic cannot be empty"));
            }
            subs.push(Subscription {
                filter: wrap(t.clone()),
                encoding: forced.or_else(|| encoding_of(t)),
            });
        }
    }
    Ok(subs)
}

fn or_all<T: Copy + PartialEq>(chosen: &[T], all: &[T]) -> Vec<T> {
    if chosen.is_empty() {
        all.to_vec()
    } else {
        all.iter().copied().filter(|x| chosen.contains(x)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_four_centiloc_topics() {
        let subs = subscriptions("acme", &TopicChoice::default()).unwrap();
        let filters: Vec<_> = subs.iter().map(|s| s.filter.as_str()).collect();
        assert_eq!(
            filters,
            [
                "centiloc/acme",
                "centiloc/acme/json/item/v1/update",
                "centiloc/acme/proto/board/v1/update",
                "centiloc/acme/json/board/v1/update"
            ]
        );
        for s in &subs {
            assert_eq!(s.encoding, encoding_of(&s.filter));
        }
    }

    #[test]
    fn narrowed_and_shared() {
        let choice = TopicChoice {
            kinds: vec![Kind::Item],
            encodings: vec![Encoding::Json],
            share: Some("acme-g1".into()),
            ..Default::default()
        };
        let subs = subscriptions("acme", &choice).unwrap();
        assert_eq!(subs.len(), 1);
        assert_eq!(
            subs[0].filter,
            "$share/acme-g1/centiloc/acme/json/item/v1/update"
        );
    }

    #[test]
    fn share_group_must_start_with_tenant() {
        let choice = TopicChoice {
            share: Some("other".into()),
            ..Default::default()
        };
        let e = subscriptions("acme", &choice).unwrap_err().to_string();
        assert!(e.contains("start with the tenant ID \"acme\""), "{e}");
    }

    #[test]
    fn encoding_from_centiloc_topics() {
        use Encoding::*;
        assert_eq!(encoding_of("centiloc/acme"), Some(Proto));
        assert_eq!(encoding_of("centiloc/acme/json/item/v1/update"), Some(Json));
        assert_eq!(
            encoding_of("centiloc/acme/proto/board/v1/update"),
            Some(Proto)
        );
        assert_eq!(
            encoding_of("$share/acme-g/centiloc/acme/json/board/v1/update"),
            Some(Json)
        );
        assert_eq!(encoding_of("$share/acme-g/centiloc/acme"), Some(Proto));
        assert_eq!(encoding_of("other/topic/x"), None);
    }

    #[test]
    fn kind_from_centiloc_topics() {
        for e in [Encoding::Proto, Encoding::Json] {
            assert_eq!(
                kind_of(&centiloc_topic("acme", Kind::Item, e)),
                Some(Kind::Item)
            );
            assert_eq!(
                kind_of(&centiloc_topic("acme", Kind::Board, e)),
                Some(Kind::Board)
            );
        }
        assert_eq!(kind_of("$share/acme-g/centiloc/acme"), Some(Kind::Item));
        assert_eq!(kind_of("other/topic/x"), None);
    }
}
