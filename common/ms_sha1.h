/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/ms_sha1.h - SHA-1 (FIPS 180-4), needed for mysql_native_password. Not for new
 * security designs; the protocol fixes the choice. Pure, no allocation, any thread.
 */
#ifndef MYSHARD_COMMON_MS_SHA1_H
#define MYSHARD_COMMON_MS_SHA1_H

#include "common/ms_base.h"

#define MS_SHA1_LEN 20

struct ms_sha1 {
	uint32_t h[5];
	uint64_t total; /* bytes fed so far */
	uint8_t block[64];
	size_t fill; /* bytes waiting in <block> */
};

void ms_sha1_init(struct ms_sha1 *ctx);
void ms_sha1_update(struct ms_sha1 *ctx, const void *data, size_t len);
void ms_sha1_final(struct ms_sha1 *ctx, uint8_t out[MS_SHA1_LEN]);
/* One-shot digest of <data>. */
void ms_sha1(const void *data, size_t len, uint8_t out[MS_SHA1_LEN]);

#endif /* MYSHARD_COMMON_MS_SHA1_H */
