/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_tls.c - TLS for client connections over OpenSSL memory BIOs: the socket side stays
 * plain non-blocking reads and writes (px_conn's rules), OpenSSL never touches the socket, so a
 * handshake in progress can never block or confuse the event loop.
 */
#include "proxy/px_tls.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "proxy/px_conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <unistd.h>

#define PX_TLS_CHUNK   16384         /* one TLS record's plaintext at most */
#define PX_TLS_ROUNDS  4             /* socket reads per wakeup, as for plain connections */
#define PX_TLS_OUT_CAP (256u * 1024) /* encrypted bytes queued before encrypting more waits */

struct px_tls {
	SSL *ssl;
	BIO *rbio;                /* ciphertext from the socket; owned by <ssl> */
	BIO *wbio;                /* ciphertext for the socket; owned by <ssl> */
	struct evbuffer *raw_out; /* owned; encrypted records not yet written */
};

static SSL_CTX *px_tls_ctx; /* written once before the workers start, then read-only */
static EVP_PKEY *px_rsa_key; /* likewise */
static char *px_rsa_pem;
static size_t px_rsa_pem_len;

static void
px_tls_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0) {
		snprintf(buf, len, "unknown OpenSSL error");
	} else {
		ERR_error_string_n(e, buf, len);
	}
	ERR_clear_error();
}

enum ms_rc
px_tls_rsa_init(char *err, size_t errlen)
{
	char why[256];
	BIO *mem = NULL;
	BUF_MEM *bm = NULL;

	px_rsa_key = EVP_RSA_gen(2048);
	mem = px_rsa_key != NULL ? BIO_new(BIO_s_mem()) : NULL;
	if (mem == NULL || PEM_write_bio_PUBKEY(mem, px_rsa_key) != 1 ||
	    BIO_get_mem_ptr(mem, &bm) != 1 || (px_rsa_pem = malloc(bm->length + 1)) == NULL) {
		px_tls_errstr(why, sizeof(why));
		snprintf(err, errlen, "cannot make the RSA key for caching_sha2_password: %s", why);
		BIO_free(mem);
		return MS_ENOMEM;
	}
	memcpy(px_rsa_pem, bm->data, bm->length);
	px_rsa_pem[bm->length] = '\0';
	px_rsa_pem_len = bm->length;
	BIO_free(mem);
	return MS_OK;
}

const char *
px_tls_rsa_public_pem(size_t *len)
{
	*len = px_rsa_pem_len;
	return px_rsa_pem;
}

bool
px_tls_rsa_decrypt(const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	EVP_PKEY_CTX *ctx = px_rsa_key != NULL ? EVP_PKEY_CTX_new(px_rsa_key, NULL) : NULL;
	bool ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
		  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
		  EVP_PKEY_decrypt(ctx, out, outlen, in, inlen) == 1;

	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

enum ms_rc
px_tls_init(const struct conf *c, char *err, size_t errlen)
{
	char why[256];
	SSL_CTX *ctx;

	if (c->tls == NULL) {
		return MS_OK;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		px_tls_errstr(why, sizeof(why));
		snprintf(err, errlen, "tls: cannot create a TLS context: %s", why);
		return MS_ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* idle connections give their record buffers back (memory per client) */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls->cert) != 1) {
		px_tls_errstr(why, sizeof(why));
		snprintf(err, errlen, "%s:%u: tls.cert: cannot load '%s': %s", c->path, c->tls->cert_line,
			 c->tls->cert, why);
		SSL_CTX_free(ctx);
		return MS_EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		px_tls_errstr(why, sizeof(why));
		snprintf(err, errlen,
			 "%s:%u: tls.key: cannot load '%s' or it does not match tls.cert: %s", c->path,
			 c->tls->key_line, c->tls->key, why);
		SSL_CTX_free(ctx);
		return MS_EINVAL;
	}
	px_tls_ctx = ctx;
	return MS_OK;
}

void
px_tls_shutdown(void)
{
	EVP_PKEY_free(px_rsa_key);
	px_rsa_key = NULL;
	free(px_rsa_pem);
	px_rsa_pem = NULL;
	if (px_tls_ctx != NULL) {
		SSL_CTX_free(px_tls_ctx);
		px_tls_ctx = NULL;
	}
}

bool
px_tls_enabled(void)
{
	return px_tls_ctx != NULL;
}

void
px_tls_free(struct px_tls *t)
{
	if (t == NULL) {
		return;
	}
	SSL_free(t->ssl); /* frees both BIOs */
	if (t->raw_out != NULL) {
		evbuffer_free(t->raw_out);
	}
	free(t);
}

enum ms_rc
px_tls_start(struct px_conn *c)
{
	struct px_tls *t = calloc(1, sizeof(*t));
	size_t left;

	if (t == NULL || px_tls_ctx == NULL) {
		free(t);
		return MS_ENOMEM;
	}
	t->ssl = SSL_new(px_tls_ctx);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	t->raw_out = evbuffer_new();
	if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL || t->raw_out == NULL) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		t->rbio = t->wbio = NULL;
		SSL_free(t->ssl);
		t->ssl = NULL;
		px_tls_free(t);
		ERR_clear_error();
		return MS_ENOMEM;
	}
	/* reading an empty memory BIO means "want more", not end of file */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_accept_state(t->ssl);
	/* the client sends its ClientHello right behind the SSLRequest: it may already be here */
	while ((left = evbuffer_get_length(c->in)) > 0) {
		struct evbuffer_iovec v;

		if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) {
			break;
		}
		if (BIO_write(t->rbio, v.iov_base, (int)(v.iov_len < INT32_MAX ? v.iov_len : INT32_MAX)) <=
		    0) {
			px_tls_free(t);
			return MS_ENOMEM;
		}
		evbuffer_drain(c->in, v.iov_len);
	}
	c->tls = t;
	if (BIO_ctrl_pending(t->rbio) > 0) {
		event_active(&c->rev, EV_READ, 0); /* the socket will not signal bytes already read */
	}
	return MS_OK;
}

bool
px_tls_established(const struct px_tls *t)
{
	return t != NULL && SSL_is_init_finished(t->ssl);
}

const char *
px_tls_version(const struct px_tls *t)
{
	return px_tls_established(t) ? SSL_get_version(t->ssl) : "";
}

const char *
px_tls_cipher(const struct px_tls *t)
{
	const char *name = px_tls_established(t) ? SSL_get_cipher_name(t->ssl) : NULL;

	return name != NULL ? name : "";
}

size_t
px_tls_pending_out(const struct px_conn *c)
{
	return evbuffer_get_length(c->tls->raw_out);
}

/* Moves the records OpenSSL produced into raw_out. */
static bool
px_tls_collect(struct px_tls *t)
{
	size_t pend;

	while ((pend = BIO_ctrl_pending(t->wbio)) > 0) {
		struct evbuffer_iovec v;
		int got;

		if (evbuffer_reserve_space(t->raw_out, (ev_ssize_t)pend, &v, 1) < 1) {
			return false;
		}
		got = BIO_read(t->wbio, v.iov_base, (int)(v.iov_len < pend ? v.iov_len : pend));
		v.iov_len = got > 0 ? (size_t)got : 0;
		evbuffer_commit_space(t->raw_out, &v, 1);
		if (got <= 0) {
			return false;
		}
	}
	return true;
}

static void
px_tls_log_failure(struct px_conn *c, const char *op)
{
	char why[256];

	px_tls_errstr(why, sizeof(why));
	ms_log_debug("tls: %s failed on fd %d: %s", op, (int)c->fd, why);
	c->err = EPROTO;
}

bool
px_tls_flush(struct px_conn *c, struct evbuffer *src)
{
	struct px_tls *t = c->tls;

	for (;;) {
		bool blocked = false; /* the handshake must finish before more can be encrypted */
		size_t left;

		while (src != NULL && (left = evbuffer_get_length(src)) > 0 &&
		       evbuffer_get_length(t->raw_out) < PX_TLS_OUT_CAP) {
			size_t chunk = left < PX_TLS_CHUNK ? left : PX_TLS_CHUNK;
			unsigned char *p = evbuffer_pullup(src, (ev_ssize_t)chunk);
			int r;

			if (p == NULL) {
				c->err = ENOMEM;
				return false;
			}
			r = SSL_write(t->ssl, p, (int)chunk);
			if (r <= 0) {
				if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ) {
					blocked = true; /* reads drive the handshake */
					break;
				}
				px_tls_log_failure(c, "SSL_write");
				return false;
			}
			evbuffer_drain(src, (size_t)r);
			if (!px_tls_collect(t)) {
				c->err = ENOMEM;
				return false;
			}
		}
		if (!px_tls_collect(t)) {
			c->err = ENOMEM;
			return false;
		}
		while (evbuffer_get_length(t->raw_out) > 0) {
			int n = evbuffer_write(t->raw_out, c->fd);

			if (n > 0) {
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				return true; /* write interest brings us back */
			}
			c->err = n < 0 ? errno : EPIPE;
			return false;
		}
		/* everything encrypted so far is written: encrypt the rest, if there is any */
		if (blocked || src == NULL || evbuffer_get_length(src) == 0) {
			return true;
		}
	}
}

unsigned int
px_tls_fill(struct px_conn *c, struct evbuffer *dst)
{
	struct px_tls *t = c->tls;
	unsigned int what = 0;
	bool eof = false;

	/* socket -> rbio (skipped while the plaintext side is full: backpressure) */
	for (int round = 0; round < PX_TLS_ROUNDS; round++) {
		unsigned char buf[PX_TLS_CHUNK];
		ssize_t got;

		if (c->read_hw > 0 && evbuffer_get_length(dst) >= c->read_hw) {
			break;
		}
		got = read(c->fd, buf, sizeof(buf));
		if (got > 0) {
			if (BIO_write(t->rbio, buf, (int)got) != (int)got) {
				c->err = ENOMEM;
				return PX_CONN_ERROR;
			}
			if ((size_t)got < sizeof(buf)) {
				break;
			}
			continue;
		}
		if (got == 0) {
			eof = true;
			break;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			c->err = errno;
			return PX_CONN_ERROR;
		}
		break;
	}
	/* rbio -> plaintext; also runs the handshake */
	for (;;) {
		struct evbuffer_iovec v;
		int r, e;

		if (c->read_hw > 0 && evbuffer_get_length(dst) >= c->read_hw) {
			px_conn_set_read(c, false); /* px_conn_resume() restarts it */
			c->hw_stopped = true;
			break;
		}
		if (evbuffer_reserve_space(dst, PX_TLS_CHUNK, &v, 1) < 1) {
			c->err = ENOMEM;
			return what | PX_CONN_ERROR;
		}
		r = SSL_read(t->ssl, v.iov_base, (int)(v.iov_len < PX_TLS_CHUNK ? v.iov_len : PX_TLS_CHUNK));
		if (r > 0) {
			v.iov_len = (size_t)r;
			evbuffer_commit_space(dst, &v, 1);
			what |= PX_CONN_READ;
			continue;
		}
		evbuffer_commit_space(dst, &v, 0);
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			if (eof) {
				what |= PX_CONN_EOF; /* the peer closed without close_notify */
			}
			break;
		}
		if (e == SSL_ERROR_ZERO_RETURN) {
			what |= PX_CONN_EOF;
			break;
		}
		px_tls_log_failure(c, SSL_is_init_finished(t->ssl) ? "SSL_read" : "TLS handshake");
		/* the handshake's alert, if any, still goes out below */
		what |= PX_CONN_ERROR;
		break;
	}
	/* handshake records and alerts (output that waited for the handshake: px_conn) */
	if (!px_tls_flush(c, NULL)) {
		what |= PX_CONN_ERROR;
	}
	return what;
}
