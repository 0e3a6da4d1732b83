#!/bin/sh
# One-shot key setup for docker/docker-compose.yml (run by the key-init service, alpine image).
#
# Why this exists: api-server signs collab tokens with an Ed25519 private key and access tokens
# with an HMAC (HS256) secret; every collab node must verify both (the public key for /ws, the
# secret for the /chat socket). Left to themselves, each container would generate its own
# keys in its own data folder and no node would accept the api-server's tokens. This script
# creates the keys once, into named volumes, and never replaces existing ones:
#   /keys/api     (api-server, read-only)   collab-ed25519.key.pem  PKCS#8 PEM private key
#                                           collab-ed25519.pub.pem  SPKI PEM public key
#                                           api-jwt-secret          48 random bytes
#   /keys/collab  (collab nodes, read-only) collab-ed25519.pub.pem, api-jwt-secret (copies)
# Collab nodes never see the private key. To bring your own keys, put them in the api volume
# under these names before the first `up`; the script then only copies them.
set -eu

api=/keys/api
collab=/keys/collab
uid=10001 # the weft user of both images
umask 077

openssl_ready() {
  command -v openssl >/dev/null 2>&1 || apk add --no-cache --quiet openssl
}

if [ ! -s "$api/collab-ed25519.key.pem" ]; then
  openssl_ready
  openssl genpkey -algorithm ed25519 -out "$api/.key.tmp"
  mv "$api/.key.tmp" "$api/collab-ed25519.key.pem"
  rm -f "$api/collab-ed25519.pub.pem"
  echo "key-init: generated a new Ed25519 key pair for collab tokens"
fi
if [ ! -s "$api/collab-ed25519.pub.pem" ]; then
  openssl_ready
  openssl pkey -in "$api/collab-ed25519.key.pem" -pubout -out "$api/.pub.tmp"
  mv "$api/.pub.tmp" "$api/collab-ed25519.pub.pem"
fi
if [ ! -s "$api/api-jwt-secret" ]; then
  head -c 48 /dev/urandom >"$api/.secret.tmp"
  mv "$api/.secret.tmp" "$api/api-jwt-secret"
  echo "key-init: generated a new access-token secret"
fi

# The collab nodes' copies follow the api volume (also after a key was replaced there).
for name in collab-ed25519.pub.pem api-jwt-secret; do
  cp "$api/$name" "$collab/.$name.tmp"
  mv "$collab/.$name.tmp" "$collab/$name"
done

chown "$uid:$uid" "$api"/* "$collab"/*
chmod 0400 "$api"/* "$collab"/*
echo "key-init: keys ready"
