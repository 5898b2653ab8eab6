//! Registry-free self-test of the sigstore-rs peer: a key written by
//! sigstore-rs must load back in sigstore-rs with the same public key.

use imgseal_interop::{peer_generate_encrypted_key, peer_load_private_key};

#[test]
fn generated_key_round_trips() {
    let password = b"correct horse battery staple";
    let (private_pem, public_pem) = peer_generate_encrypted_key(password).unwrap();

    assert!(
        private_pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{private_pem}"
    );
    assert!(
        public_pem.starts_with("-----BEGIN PUBLIC KEY-----"),
        "{public_pem}"
    );

    let loaded_public = peer_load_private_key(private_pem.as_bytes(), password).unwrap();
    assert_eq!(loaded_public, public_pem);
}

#[test]
fn wrong_password_is_rejected() {
    let (private_pem, _) = peer_generate_encrypted_key(b"right").unwrap();
    assert!(peer_load_private_key(private_pem.as_bytes(), b"wrong").is_err());
}

#[test]
fn empty_password_round_trips() {
    // cosign allows an empty password for encrypted keys (COSIGN_PASSWORD="").
    let (private_pem, public_pem) = peer_generate_encrypted_key(b"").unwrap();
    assert_eq!(
        peer_load_private_key(private_pem.as_bytes(), b"").unwrap(),
        public_pem
    );
}

#[test]
fn cosign_pem_label_is_accepted() {
    // Older cosign writes "ENCRYPTED COSIGN PRIVATE KEY"; sigstore-rs reads both
    // labels (the label is not covered by the encryption).
    let (private_pem, public_pem) = peer_generate_encrypted_key(b"pw").unwrap();
    let relabelled = private_pem.replace(
        "ENCRYPTED SIGSTORE PRIVATE KEY",
        "ENCRYPTED COSIGN PRIVATE KEY",
    );
    assert_eq!(
        peer_load_private_key(relabelled.as_bytes(), b"pw").unwrap(),
        public_pem
    );
}
