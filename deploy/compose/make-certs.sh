#!/bin/sh
# Certificates for the compose sample, in ./certs:
#   public.pem/.key  what browsers and bridges see (self-signed here; use a real one, e.g.
#                    from Let's Encrypt, and drop it in under the same names)
#   ca.pem           an internal CA nginx trusts for the hop to the nodes
#   node.pem/.key    the nodes' certificate (name "ferry-node"), signed by that CA
set -eu
name=${1:?usage: make-certs.sh PUBLIC_HOST_NAME}
umask 077
mkdir -p certs
cd certs
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name" -keyout public.key -out public.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=Ferry internal CA" -keyout ca.key -out ca.pem
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=ferry-node" -keyout node.key -out node.csr
printf 'subjectAltName=DNS:ferry-node\n' > node.ext
openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile node.ext -out node.pem
# The CA signed what it had to: it is not kept (rerun the script to renew everything).
rm -f node.csr node.ext ca.srl ca.key
# The nodes run as an unprivileged user: let it read its key (the directory stays private).
chmod 644 node.key node.pem ca.pem public.pem
