/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_tls.h - TLS for client connections (OpenSSL). The server context is built once at
 * startup from the config's tls: section and shared read-only by every worker. A connection
 * switches to TLS after the client's SSLRequest packet: from then on px_conn reads ciphertext
 * from the socket into a memory BIO and hands the owner plaintext, and encrypts the owner's
 * output before writing it, so the owner's code does not change.
 */
#ifndef MYSHARD_PROXY_PX_TLS_H
#define MYSHARD_PROXY_PX_TLS_H

#include "common/ms_base.h"

#include <stddef.h>

struct conf;
struct evbuffer;
struct px_conn;
struct px_tls;

/*
 * Loads the certificate chain and key of <c>->tls into the process-wide server context.
 * MS_OK without a tls: section (TLS then stays off). On failure writes one line to <err>.
 * Main thread, before the workers start.
 */
enum ms_rc px_tls_init(const struct conf *c, char *err, size_t errlen) MS_MUSTCHECK;
/*
 * The RSA key pair for caching_sha2_password's key exchange over plain TCP (made at startup,
 * 2048 bits, never written anywhere): its public half as PEM, and a decryption of one
 * RSA-OAEP block with the private half (false if it does not decrypt). Any thread.
 */
enum ms_rc px_tls_rsa_init(char *err, size_t errlen) MS_MUSTCHECK; /* at startup */
const char *px_tls_rsa_public_pem(size_t *len);
bool px_tls_rsa_decrypt(const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen) MS_MUSTCHECK;
/* Frees the context (at exit). */
void px_tls_shutdown(void);
/* True if clients may ask for TLS. */
bool px_tls_enabled(void);

/*
 * Switches <c> to TLS as the server side of the handshake. Bytes already read into <c>->in
 * (the client's first TLS records, sent right after its SSLRequest) are taken as ciphertext.
 */
enum ms_rc px_tls_start(struct px_conn *c) MS_MUSTCHECK;
/* Frees <t> (the connection is closing; no close_notify is sent). */
void px_tls_free(struct px_tls *t);
/* The negotiated protocol version and cipher ("TLSv1.3", ...), or "" before the handshake. */
const char *px_tls_version(const struct px_tls *t);
const char *px_tls_cipher(const struct px_tls *t);
/* True once the handshake has completed. */
bool px_tls_established(const struct px_tls *t);

/*
 * Used by px_conn: px_tls_fill() reads the socket and decrypts into <dst> (returns PX_CONN_*
 * bits like a plain read); px_tls_flush() encrypts <src> and writes the records (returns false
 * on a socket error, with <c>->err set). <dst>/<src> are <c>->in/out, or the compression
 * layer's wire buffers.
 */
unsigned int px_tls_fill(struct px_conn *c, struct evbuffer *dst);
bool px_tls_flush(struct px_conn *c, struct evbuffer *src);
/* Bytes waiting to be written to the socket (records already encrypted). */
size_t px_tls_pending_out(const struct px_conn *c);

#endif /* MYSHARD_PROXY_PX_TLS_H */
