/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/ms_base.c - invariant failure reporting.
 */
#include "common/ms_base.h"

#include <stdio.h>
#include <stdlib.h>

void
ms_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "myshard: BUG at %s:%d: %s\n", file, line, what);
	fflush(stderr);
	abort();
}
