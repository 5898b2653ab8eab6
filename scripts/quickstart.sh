#!/usr/bin/env bash
# Quickstart on the embedded default: no registry needed. Builds a tiny image into a local OCI
# image layout, generates a key pair, signs, verifies, and shows tampered images being refused.
set -euo pipefail
cd "$(dirname "$0")/.."
# IMGSEAL names an already built binary (tests/docs.rs runs this script with the one it built).
if [ -z "${IMGSEAL:-}" ]; then
  cargo build --quiet --bin imgseal
  IMGSEAL="$PWD/target/debug/imgseal"
fi
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
cd "$WORK"
export IMGSEAL_PASSWORD="${IMGSEAL_PASSWORD:-quickstart-demo-password}"

# --- build a tiny single-layer image into ./demo-image (an OCI image layout)
put_blob() { # stdin -> blobs/sha256/<hex>; prints the hex
  local tmp hex; tmp=$(mktemp); cat > "$tmp"
  hex=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "demo-image/blobs/sha256/$hex"; echo "$hex"
}
build_image() { # $1 = file content; tags the result as "v1"; prints the manifest digest
  rm -rf rootfs && mkdir -p rootfs && printf '%s\n' "$1" > rootfs/hello.txt
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C rootfs -cf layer.tar .
  local diff_id layer layer_size config config_size manifest manifest_size
  diff_id=$(sha256sum layer.tar | cut -d' ' -f1)
  gzip -n -f layer.tar
  layer_size=$(stat -c %s layer.tar.gz); layer=$(put_blob < layer.tar.gz)
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["cat","/hello.txt"],"Labels":{"org.opencontainers.image.version":"1.0.0"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff_id" > config.json
  config_size=$(stat -c %s config.json); config=$(put_blob < config.json)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$layer_size" > manifest.json
  manifest_size=$(stat -c %s manifest.json); manifest=$(put_blob < manifest.json)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
    "$manifest" "$manifest_size" > demo-image/index.json.new
  # keep any signature entries already in index.json, replace the v1 entry
  if [ -f demo-image/index.json ]; then
    python3 - "$manifest" "$manifest_size" <<'PY'
import json, sys
idx = json.load(open("demo-image/index.json"))
idx["manifests"] = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != "v1"]
idx["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sys.argv[1], "size": int(sys.argv[2]), "annotations": {"org.opencontainers.image.ref.name": "v1"}})
json.dump(idx, open("demo-image/index.json.new", "w"))
PY
  fi
  mv demo-image/index.json.new demo-image/index.json
  echo "$manifest"
}
rm -rf demo-image && mkdir -p demo-image/blobs/sha256
echo '{"imageLayoutVersion":"1.0.0"}' > demo-image/oci-layout
digest=$(build_image "hello from imgseal")
echo "== built oci:demo-image:v1 (sha256:$digest) in $WORK"

echo "== generate-key-pair"
"$IMGSEAL" generate-key-pair --output-key-prefix demo --force

echo "== sign"
"$IMGSEAL" sign --key demo.key -a build-version=1 oci:demo-image:v1

echo "== verify"
"$IMGSEAL" verify --key demo.pub -a build-version=1 oci:demo-image:v1

expect_refused() { # $1 = layout directory
  set +e; "$IMGSEAL" verify --key demo.pub "oci:$1:v1"; local rc=$?; set -e
  if [ "$rc" -ne 1 ]; then echo "quickstart: expected verification to fail with exit 1, got $rc" >&2; exit 1; fi
  echo "   -> refused (exit $rc), as it should be"
}

# The tampering happens on copies, so ./demo-image stays signed and verifiable.
echo "== tamper 1: new content pushed under the signed tag (copy in ./tampered-tag)"
rm -rf tampered-tag && cp -r demo-image tampered-tag
( mv demo-image demo-image.orig && mv tampered-tag demo-image && build_image "hello from an attacker" > /dev/null \
  && mv demo-image tampered-tag && mv demo-image.orig demo-image )
expect_refused tampered-tag

echo "== tamper 2: the signed manifest's bytes edited in place (copy in ./tampered-bytes)"
rm -rf tampered-bytes && cp -r demo-image tampered-bytes
chmod u+w "tampered-bytes/blobs/sha256/$digest"
sed -i 's/"schemaVersion":2/"schemaVersion": 2/' "tampered-bytes/blobs/sha256/$digest"
expect_refused tampered-bytes

echo "== quickstart done: oci:$WORK/demo-image:v1 is signed and verifies; both tampered copies were refused"
