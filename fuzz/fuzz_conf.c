/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz/fuzz_conf.c - libFuzzer target for the YAML configuration loader (the input is the file). */
#include "conf/conf.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct conf *c = NULL;
	char err[CONF_ERR_LEN];

	if (conf_load_string((const char *)d, n, "fuzz.yaml", &c, err, sizeof(err)) == MS_OK) {
		conf_free(c);
	}
	return 0;
}
