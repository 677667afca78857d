//! The tree against RFC 6962's vectors (the eight standard leaves of transparency-dev's `merkle`
//! test data, whose roots and proofs are reproduced here from the RFC's definitions), random
//! trees whose every proof verifies and fails when changed, and a checkpoint that Go's
//! verifier-key format opens.

use proptest::prelude::*;
use tlog_tiles::{HashReader, record_hash};

use super::*;

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn hex_hash(hex: &str) -> Hash {
    let bytes: [u8; 32] = hex::decode(hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .unwrap_or_else(|| panic!("{hex} is a hash"));
    Hash(bytes)
}

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| hex::encode(h.0)).collect()
}

/// The tree of `leaves` (as their leaf hashes).
fn tree(leaves: &[Hash]) -> StoredHashes {
    let mut hashes = StoredHashes::default();
    for (n, leaf) in (0u64..).zip(leaves) {
        hashes.append(n, *leaf).expect("appended");
    }
    hashes
}

fn vector_tree() -> (Vec<Hash>, StoredHashes) {
    let leaves: Vec<Hash> = LEAVES
        .iter()
        .map(|hex| record_hash(&hex::decode(hex).expect("hex")))
        .collect();
    let hashes = tree(&leaves);
    (leaves, hashes)
}

#[test]
fn roots_match_rfc_6962_vectors() {
    let (_, hashes) = vector_tree();
    for (size, expected) in (0u64..).zip(ROOTS) {
        let root = root(size, &hashes).expect("root");
        assert_eq!(hex::encode(root.0), expected, "size {size}");
    }
}

#[test]
fn inclusion_proofs_match_rfc_6962_vectors() {
    let (leaves, hashes) = vector_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, expected) in cases {
        let proof = inclusion(size, index, &hashes).expect("proof");
        assert_eq!(hexes(&proof), expected, "leaf {index} of {size}");
        let at = usize::try_from(size).expect("small");
        let root = hex_hash(ROOTS[at]);
        let leaf = leaves[usize::try_from(index).expect("small")];
        check_inclusion(&proof, size, root, index, leaf).expect("verifies");
    }
}

#[test]
fn consistency_proofs_match_rfc_6962_vectors() {
    let (_, hashes) = vector_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (from, to, expected) in cases {
        let proof = consistency(to, from, &hashes).expect("proof");
        assert_eq!(hexes(&proof), expected, "{from} -> {to}");
        let root = |size: u64| hex_hash(ROOTS[usize::try_from(size).expect("small")]);
        check_consistency(&proof, to, root(to), from, root(from)).expect("verifies");
    }
}

#[test]
fn a_computation_reads_exactly_the_hashes_it_was_first_seen_to_need() {
    let (_, hashes) = vector_tree();
    let needed = HashesNeeded::default();
    inclusion(7, 3, &needed).expect("a dry run");
    let indexes = needed.indexes();
    let mut fetched = StoredHashes::default();
    let read = hashes.read_hashes(&indexes).expect("held");
    for (index, hash) in indexes.into_iter().zip(read) {
        fetched.insert(index, hash);
    }
    assert_eq!(
        hexes(&inclusion(7, 3, &fetched).expect("proof")),
        hexes(&inclusion(7, 3, &hashes).expect("proof"))
    );
}

#[test]
fn a_leaf_is_the_ascii_of_its_event_hash() {
    let event_hash = "ab".repeat(32);
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(event_hash.as_bytes());
    assert_eq!(
        leaf_hash(&event_hash).0,
        <[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_proof_of_a_random_tree_verifies_and_a_changed_one_fails(
        size in 1u64..3_000,
        seed in any::<u64>(),
    ) {
        let leaves: Vec<Hash> = (0..size)
            .map(|i| leaf_hash(&format!("{seed:016x}{i:048x}")))
            .collect();
        let hashes = tree(&leaves);
        let top = root(size, &hashes).expect("root");
        let index = seed % size;
        let leaf = leaves[usize::try_from(index).expect("fits")];
        let proof = inclusion(size, index, &hashes).expect("proof");
        prop_assert!(check_inclusion(&proof, size, top, index, leaf).is_ok());
        prop_assert!(check_inclusion(&proof, size, top, index, leaves[0]).is_err() || index == 0);
        if size > 1 {
            prop_assert!(check_inclusion(&proof, size, top, (index + 1) % size, leaf).is_err());
            let mut changed = proof.clone();
            changed[0].0[0] ^= 1;
            prop_assert!(check_inclusion(&changed, size, top, index, leaf).is_err());
        }
        let from = 1 + (seed >> 20) % size;
        let from_root = root(from, &hashes).expect("root");
        let proof = consistency(size, from, &hashes).expect("proof");
        prop_assert!(check_consistency(&proof, size, top, from, from_root).is_ok());
        if let Some(first) = proof.first() {
            let mut changed = proof.clone();
            changed[0] = Hash([first.0[0] ^ 1; 32]);
            prop_assert!(check_consistency(&changed, size, top, from, from_root).is_err());
        }
        let mut other = from_root;
        other.0[31] ^= 1;
        prop_assert!(check_consistency(&proof, size, top, from, other).is_err() || from == size && proof.is_empty());
    }
}

#[test]
fn a_checkpoint_opens_with_its_verifier_key() {
    use signed_note::{StandardVerifier, VerifierList};
    let ring = crate::proof::Ed25519Keyring::from_json(
        "v1",
        r#"{"v1":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}"#,
    )
    .expect("a ring");
    let (_, hashes) = vector_tree();
    let top = root(8, &hashes).expect("root");
    let note = sign_checkpoint("greenos.local/log", 8, top, &ring).expect("signed");
    let text = "greenos.local/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n";
    assert!(
        note.starts_with(&format!("{text}\n\u{2014} greenos.local/log ")),
        "{note}"
    );
    let key = LogKey::new("greenos.local/log", &ring);
    let verifier = StandardVerifier::new(&key.verifier_key).expect("a verifier key");
    let opened = signed_note::Note::from_bytes(note.as_bytes()).expect("a note");
    opened
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .expect("the signature verifies");
    assert_eq!(opened.text(), text.as_bytes());
    let (name, rest) = key.verifier_key.split_once('+').expect("name");
    assert_eq!(name, "greenos.local/log");
    let (id, _) = rest.split_once('+').expect("id");
    let public = [&[1u8][..], &base64_decode(&key.public_key)].concat();
    let mut input = b"greenos.local/log\n".to_vec();
    input.extend_from_slice(&public);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&input);
    assert_eq!(id, hex::encode(&digest[..4]));
    assert!(matches!(
        sign_checkpoint("has space", 1, top, &ring),
        Err(super::checkpoint::CheckpointError::Origin(_))
    ));
}

#[test]
fn open_checkpoint_refuses_a_forged_note_and_another_key() {
    let ring = |seed: &str| {
        crate::proof::Ed25519Keyring::from_json("v1", &format!(r#"{{"v1":"{seed}"}}"#))
            .expect("a ring")
    };
    let ours = ring("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    let theirs = ring("HxwdHh8YGRobFBUWFxAREhMMDQ4PCAkKCwQFBgcAAQI=");
    let (_, hashes) = vector_tree();
    let top = root(8, &hashes).expect("root");
    let note = sign_checkpoint("greenos.local/log", 8, top, &ours).expect("signed");
    let key = LogKey::new("greenos.local/log", &ours).verifier_key;
    let opened = super::open_checkpoint(&note, &key).expect("opens");
    assert_eq!((opened.size, opened.root), (8, top));
    assert_eq!(opened.origin, "greenos.local/log");

    let forged = note.replacen("\n8\n", "\n9\n", 1);
    assert!(matches!(
        super::open_checkpoint(&forged, &key),
        Err(super::OpenError::Signature(_))
    ));
    let other = LogKey::new("greenos.local/log", &theirs).verifier_key;
    assert!(matches!(
        super::open_checkpoint(&note, &other),
        Err(super::OpenError::Signature(_))
    ));
    let elsewhere = sign_checkpoint("other.example/log", 8, top, &ours).expect("signed");
    assert!(super::open_checkpoint(&elsewhere, &key).is_err());
    assert_eq!(
        super::open_checkpoint(&note, "not a key"),
        Err(super::OpenError::VerifierKey)
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}
