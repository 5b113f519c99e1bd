/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/ms_sha1.c - straightforward SHA-1: 80 rounds over 64-byte blocks, big-endian words.
 */
#include "common/ms_sha1.h"

#include <string.h>

static uint32_t
ms_rol32(uint32_t v, unsigned int n)
{
	return (v << n) | (v >> (32 - n));
}

/* One round; <f> is the round function of its group of 20. */
#define MS_SHA1_ROUND(f, k, wi)                                                                    \
	do {                                                                                       \
		uint32_t t_ = ms_rol32(a, 5) + (f) + e + (k) + (wi);                               \
		e = d;                                                                             \
		d = c;                                                                             \
		c = ms_rol32(b, 30);                                                               \
		b = a;                                                                             \
		a = t_;                                                                            \
	} while (0)

static void
ms_sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	int i;

	for (i = 0; i < 16; i++) {
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	}
	for (i = 16; i < 80; i++) {
		w[i] = ms_rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	}
	/* four loops of 20 rounds: no per-round branch on the group */
	for (i = 0; i < 20; i++) {
		MS_SHA1_ROUND(d ^ (b & (c ^ d)), 0x5a827999u, w[i]);
	}
	for (; i < 40; i++) {
		MS_SHA1_ROUND(b ^ c ^ d, 0x6ed9eba1u, w[i]);
	}
	for (; i < 60; i++) {
		MS_SHA1_ROUND((b & c) | (d & (b | c)), 0x8f1bbcdcu, w[i]);
	}
	for (; i < 80; i++) {
		MS_SHA1_ROUND(b ^ c ^ d, 0xca62c1d6u, w[i]);
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void
ms_sha1_init(struct ms_sha1 *ctx)
{
	static const uint32_t iv[5] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u,
					0xc3d2e1f0u };

	memcpy(ctx->h, iv, sizeof(iv));
	ctx->total = 0;
	ctx->fill = 0;
}

void
ms_sha1_update(struct ms_sha1 *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;

	ctx->total += len;
	while (len > 0) {
		size_t take = sizeof(ctx->block) - ctx->fill;

		if (take > len) {
			take = len;
		}
		memcpy(ctx->block + ctx->fill, p, take);
		ctx->fill += take;
		p += take;
		len -= take;
		if (ctx->fill == sizeof(ctx->block)) {
			ms_sha1_block(ctx->h, ctx->block);
			ctx->fill = 0;
		}
	}
}

void
ms_sha1_final(struct ms_sha1 *ctx, uint8_t out[MS_SHA1_LEN])
{
	uint64_t bits = ctx->total * 8;
	uint8_t pad = 0x80;

	ms_sha1_update(ctx, &pad, 1);
	if (ctx->fill > 56) { /* no room for the length: pad out this block */
		memset(ctx->block + ctx->fill, 0, sizeof(ctx->block) - ctx->fill);
		ms_sha1_block(ctx->h, ctx->block);
		ctx->fill = 0;
	}
	memset(ctx->block + ctx->fill, 0, 56 - ctx->fill);
	for (int i = 0; i < 8; i++) {
		ctx->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	}
	ms_sha1_block(ctx->h, ctx->block);
	ctx->fill = 0;
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)ctx->h[i];
	}
}

void
ms_sha1(const void *data, size_t len, uint8_t out[MS_SHA1_LEN])
{
	struct ms_sha1 ctx;

	ms_sha1_init(&ctx);
	ms_sha1_update(&ctx, data, len);
	ms_sha1_final(&ctx, out);
}
