//! Handing the connection's key and certificate to other clients (issue 11): Java, .NET,
//! Node and many MQTT GUIs take a PKCS#12 file. Pure: values in, bytes out; the command
//! (`commands/export.rs`) reads the profile and writes the file.

use p12_keystore::{EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKeyChain};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cert::Certificate;
use crate::keys::PrivateKey;

/// PBKDF2 iterations for the key and certificate encryption and for the MAC: OpenSSL 3's
/// `openssl pkcs12 -export` default (PKCS12_DEFAULT_ITER).
pub const ITERATIONS: u32 = 2048;

/// A PKCS#12 file holding `key`, its certificate and chain (`chain`, leaf first), under
/// `password`, encrypted as OpenSSL 3 does by default: PBES2 with PBKDF2-HMAC-SHA256
/// and AES-256-CBC, MAC HMAC-SHA256. `friendly_name` (the tenant) becomes the key's
/// alias, what Java's keytool and Windows show.
pub fn pkcs12(
    key: &PrivateKey,
    chain: &[Certificate],
    friendly_name: &str,
    password: &str,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let bad = |e: p12_keystore::error::Error| format!("the PKCS#12 file cannot be made ({e})");
    let key = p12_keystore::PrivateKey::from_der(key.pkcs8_der()).map_err(bad)?;
    let certs = chain
        .iter()
        .map(|c| p12_keystore::Certificate::from_der(c.der()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let leaf = chain.first().ok_or("there is no certificate to export")?;
    // The local key ID ties the key to its certificate (PKCS#12 §4.2); OpenSSL uses the
    // certificate's SHA-1, any unique value works: the SHA-256 of the certificate.
    let key_id = Sha256::digest(leaf.der());
    let mut store = KeyStore::new();
    store.add_entry(
        friendly_name,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key_id.to_vec(), key, certs)),
    );
    store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(ITERATIONS)
        .write()
        .map(Zeroizing::new)
        .map_err(bad)
}
