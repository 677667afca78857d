// Command tlogcheck verifies a running GreenOS service's RFC 6962 transparency
// log with code GreenOS did not write: Go's golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog packages.
//
// It checks that the latest checkpoint is signed by the log's key, that a
// trip's impact is included in it, that it is consistent with an older
// checkpoint, and that the served hash tiles match the signed tree hash.
//
// Usage:
//
//	tlogcheck -url http://127.0.0.1:43121 -trip TRIP_ID -old old-checkpoint.txt
//
// It exits 0 and prints one summary line when every check holds, and exits 1
// with a message on stderr at the first failure.
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is the height of the hash tiles the service serves.
const tileHeight = 8

var client = &http.Client{Timeout: 10 * time.Second}

var eventHashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// logKey is the body of GET /api/v2/esg/log/key.
type logKey struct {
	Origin            string `json:"origin"`
	VerifierKey       string `json:"verifier_key"`
	KeyVersion        string `json:"key_version"`
	PublicKey         string `json:"public_key"`
	FingerprintSHA256 string `json:"fingerprint_sha256"`
}

// impact holds the fields of GET /api/v2/esg/impact/{trip} this check uses.
type impact struct {
	EventHash string `json:"event_hash"`
	LeafIndex *int64 `json:"leaf_index"`
}

// inclusionProof is the body of GET /api/v2/esg/log/proof/inclusion.
type inclusionProof struct {
	LeafIndex  int64    `json:"leaf_index"`
	TreeSize   int64    `json:"tree_size"`
	LeafHash   string   `json:"leaf_hash"`
	Proof      []string `json:"proof"`
	Checkpoint *string  `json:"checkpoint"`
}

// consistencyProof is the body of GET /api/v2/esg/log/proof/consistency.
type consistencyProof struct {
	From  int64    `json:"from"`
	To    int64    `json:"to"`
	Proof []string `json:"proof"`
}

func main() {
	base := flag.String("url", "", "base URL of the running service, e.g. http://127.0.0.1:43121")
	trip := flag.String("trip", "", "trip id whose impact must be in the log")
	oldPath := flag.String("old", "", "file holding an older signed checkpoint note, as served")
	flag.Parse()
	if *base == "" || *trip == "" || *oldPath == "" {
		fmt.Fprintln(os.Stderr, "tlogcheck: -url, -trip and -old are all required")
		flag.Usage()
		os.Exit(2)
	}
	summary, err := run(strings.TrimSuffix(*base, "/"), *trip, *oldPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println(summary)
}

// run performs every check in order and returns the summary line.
func run(base, trip, oldPath string) (string, error) {
	// 1. The log's key.
	var key logKey
	if err := fetchJSON(base+"/api/v2/esg/log/key", &key); err != nil {
		return "", err
	}
	verifier, err := note.NewVerifier(key.VerifierKey)
	if err != nil {
		return "", fmt.Errorf("log key: verifier_key %q: %v", key.VerifierKey, err)
	}
	verifiers := note.VerifierList(verifier)

	// 2. The latest checkpoint.
	latest, err := fetchText(base + "/api/v2/esg/log/checkpoint")
	if err != nil {
		return "", err
	}
	tree, err := openCheckpoint(latest, verifiers, key.Origin)
	if err != nil {
		return "", fmt.Errorf("latest checkpoint: %v", err)
	}

	// 3. The older checkpoint.
	oldNote, err := os.ReadFile(oldPath)
	if err != nil {
		return "", fmt.Errorf("old checkpoint: %v", err)
	}
	old, err := openCheckpoint(oldNote, verifiers, key.Origin)
	if err != nil {
		return "", fmt.Errorf("old checkpoint %s: %v", oldPath, err)
	}

	// 4. The trip's impact and its leaf.
	var imp impact
	if err := fetchJSON(base+"/api/v2/esg/impact/"+url.PathEscape(trip), &imp); err != nil {
		return "", err
	}
	if !eventHashRE.MatchString(imp.EventHash) {
		return "", fmt.Errorf("impact of trip %q: event_hash %q is not 64 lowercase hex characters", trip, imp.EventHash)
	}
	if imp.LeafIndex == nil {
		return "", fmt.Errorf("impact of trip %q: leaf_index is null (not yet integrated into the log)", trip)
	}
	leafIndex := *imp.LeafIndex
	if leafIndex < 0 || leafIndex >= tree.N {
		return "", fmt.Errorf("impact of trip %q: leaf_index %d is outside the tree of size %d", trip, leafIndex, tree.N)
	}
	recordHash := tlog.RecordHash([]byte(imp.EventHash))

	// 5. The served inclusion proof.
	if err := checkInclusion(base, trip, verifiers, key.Origin, tree, leafIndex, recordHash); err != nil {
		return "", err
	}

	// 6. The served consistency proof.
	if err := checkConsistency(base, old, tree); err != nil {
		return "", err
	}

	// 7. The served tiles.
	if err := checkTiles(base, tree, leafIndex, recordHash); err != nil {
		return "", err
	}

	return fmt.Sprintf("ok: checkpoint %d (%s) verified by golang.org/x/mod/sumdb/note; "+
		"leaf %d included (CheckRecord); consistent with %d (CheckTree); tiles verified (TileHashReader)",
		tree.N, key.Origin, leafIndex, old.N), nil
}

// checkInclusion fetches the inclusion proof of trip's leaf in tree and checks it.
func checkInclusion(base, trip string, verifiers note.Verifiers, origin string, tree tlog.Tree, leafIndex int64, recordHash tlog.Hash) error {
	query := url.Values{
		"trip_id":   {trip},
		"tree_size": {strconv.FormatInt(tree.N, 10)},
	}
	var inc inclusionProof
	if err := fetchJSON(base+"/api/v2/esg/log/proof/inclusion?"+query.Encode(), &inc); err != nil {
		return err
	}
	if inc.LeafIndex != leafIndex {
		return fmt.Errorf("inclusion proof: leaf_index %d, but the impact says %d", inc.LeafIndex, leafIndex)
	}
	if inc.TreeSize != tree.N {
		return fmt.Errorf("inclusion proof: tree_size %d, but the checkpoint's is %d", inc.TreeSize, tree.N)
	}
	if inc.Checkpoint != nil {
		signed, err := openCheckpoint([]byte(*inc.Checkpoint), verifiers, origin)
		if err != nil {
			return fmt.Errorf("inclusion proof: checkpoint: %v", err)
		}
		if signed != tree {
			return fmt.Errorf("inclusion proof: checkpoint signs tree %d %s, but the latest signs %d %s", signed.N, signed.Hash, tree.N, tree.Hash)
		}
	}
	leafHash, err := decodeHash(inc.LeafHash)
	if err != nil {
		return fmt.Errorf("inclusion proof: leaf_hash: %v", err)
	}
	if leafHash != recordHash {
		return fmt.Errorf("inclusion proof: leaf_hash %s, but RecordHash(event_hash) is %s", leafHash, recordHash)
	}
	proof, err := decodeHashes(inc.Proof)
	if err != nil {
		return fmt.Errorf("inclusion proof: %v", err)
	}
	if err := tlog.CheckRecord(proof, tree.N, tree.Hash, leafIndex, recordHash); err != nil {
		return fmt.Errorf("inclusion proof: CheckRecord(leaf %d, tree %d): %v", leafIndex, tree.N, err)
	}
	return nil
}

// checkConsistency fetches the consistency proof from old to tree and checks it.
func checkConsistency(base string, old, tree tlog.Tree) error {
	query := url.Values{
		"from": {strconv.FormatInt(old.N, 10)},
		"to":   {strconv.FormatInt(tree.N, 10)},
	}
	var cons consistencyProof
	if err := fetchJSON(base+"/api/v2/esg/log/proof/consistency?"+query.Encode(), &cons); err != nil {
		return err
	}
	if cons.From != old.N || cons.To != tree.N {
		return fmt.Errorf("consistency proof: for %d -> %d, but %d -> %d was asked for", cons.From, cons.To, old.N, tree.N)
	}
	proof, err := decodeHashes(cons.Proof)
	if err != nil {
		return fmt.Errorf("consistency proof: %v", err)
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		return fmt.Errorf("consistency proof: CheckTree(%d -> %d): %v", old.N, tree.N, err)
	}
	return nil
}

// checkTiles reads the tree through the served tiles, which TileHashReader
// verifies against the signed tree hash, and proves the leaf from them.
func checkTiles(base string, tree tlog.Tree, leafIndex int64, recordHash tlog.Hash) error {
	r := tlog.TileHashReader(tree, tileReader{base: base})
	proof, err := tlog.ProveRecord(tree.N, leafIndex, r)
	if err != nil {
		return fmt.Errorf("tiles: ProveRecord(tree %d, leaf %d): %v", tree.N, leafIndex, err)
	}
	if err := tlog.CheckRecord(proof, tree.N, tree.Hash, leafIndex, recordHash); err != nil {
		return fmt.Errorf("tiles: CheckRecord of the proof built from tiles: %v", err)
	}
	th, err := tlog.TreeHash(tree.N, r)
	if err != nil {
		return fmt.Errorf("tiles: TreeHash(%d): %v", tree.N, err)
	}
	if th != tree.Hash {
		return fmt.Errorf("tiles: TreeHash(%d) is %s, but the checkpoint signs %s", tree.N, th, tree.Hash)
	}
	return nil
}

// tileReader is a tlog.TileReader that fetches hash tiles from the service.
type tileReader struct {
	base string
}

// Height returns the height of the service's tiles.
func (tileReader) Height() int { return tileHeight }

// ReadTiles fetches each tile's concatenated 32-byte hashes.
func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
		body, err := fetch(r.base+"/api/v2/esg/log/tile/"+path, "application/octet-stream")
		if err != nil {
			return nil, err
		}
		if want := t.W * tlog.HashSize; len(body) != want {
			return nil, fmt.Errorf("tile %s: %d bytes, want %d", t.Path(), len(body), want)
		}
		data[i] = body
	}
	return data, nil
}

// SaveTiles does nothing: tiles are not cached.
func (tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// openCheckpoint verifies a signed note and parses its text as a C2SP
// tlog-checkpoint: the origin, the decimal tree size and the base64 root hash,
// one per line.
func openCheckpoint(msg []byte, verifiers note.Verifiers, origin string) (tlog.Tree, error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return tlog.Tree{}, fmt.Errorf("checkpoint text %q is not exactly three lines", n.Text)
	}
	if lines[0] != origin {
		return tlog.Tree{}, fmt.Errorf("checkpoint origin %q, but the log key's is %q", lines[0], origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return tlog.Tree{}, fmt.Errorf("checkpoint tree size %q is not a canonical decimal", lines[1])
	}
	hash, err := decodeHash(lines[2])
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint root hash: %v", err)
	}
	return tlog.Tree{N: size, Hash: hash}, nil
}

// decodeHash decodes one standard-base64 32-byte hash.
func decodeHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("hash %q: %v", s, err)
	}
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("hash %q: %d bytes, want %d", s, len(b), tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}

// decodeHashes decodes a proof's standard-base64 hashes.
func decodeHashes(list []string) ([]tlog.Hash, error) {
	hashes := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := decodeHash(s)
		if err != nil {
			return nil, fmt.Errorf("proof[%d]: %v", i, err)
		}
		hashes[i] = h
	}
	return hashes, nil
}

// fetchJSON GETs u and decodes its JSON body into v.
func fetchJSON(u string, v interface{}) error {
	body, err := fetch(u, "application/json")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decoding JSON: %v", u, err)
	}
	return nil
}

// fetchText GETs u as text/plain and returns its exact bytes.
func fetchText(u string) ([]byte, error) {
	return fetch(u, "text/plain")
}

// fetch GETs u with the given Accept header and returns the body of a 200 response.
func fetch(u, accept string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", u, err)
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
