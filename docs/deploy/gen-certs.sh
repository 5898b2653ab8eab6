#!/usr/bin/env bash
# Make a CA and a serving certificate for the webhook Service with openssl, store them as
# the imgseal-tls Secret, and put the CA into both webhook configurations' caBundle.
#   bash docs/deploy/gen-certs.sh OUTDIR          # files only (what the test suite runs)
#   bash docs/deploy/gen-certs.sh OUTDIR --apply  # also kubectl create/patch
set -euo pipefail
out=${1:?usage: gen-certs.sh OUTDIR [--apply]}
ns=imgseal svc=imgseal
mkdir -p "$out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=imgseal webhook CA" -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=$svc.$ns.svc" -keyout "$out/tls.key" -out "$out/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:%s.%s,DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local\nextendedKeyUsage=serverAuth\n' \
  "$svc" "$svc" "$ns" "$svc" "$ns" "$svc" "$ns" > "$out/ext.cnf"
openssl x509 -req -in "$out/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -days 90 -extfile "$out/ext.cnf" -out "$out/tls.crt" 2>/dev/null
chmod 600 "$out/ca.key" "$out/tls.key"
if [ "${2:-}" = "--apply" ]; then
  kubectl -n "$ns" create secret tls imgseal-tls --cert "$out/tls.crt" --key "$out/tls.key" \
    --dry-run=client -o yaml | kubectl apply -f -
  ca=$(base64 -w0 < "$out/ca.crt")
  for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
    kubectl patch "$kind" imgseal --type=json \
      -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$ca\"}]"
  done
fi
echo "certificates in $out (the CA expires in 365 days, the serving certificate in 90: rerun before then)"
