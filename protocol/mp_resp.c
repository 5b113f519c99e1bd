/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol/mp_resp.c - the response-following state machine. Each state function looks at one
 * packet and sets the next state; terminators are decoded fully to learn the server status.
 */
#include "protocol/mp_resp.h"

#include "protocol/mp_result.h"

bool
mp_cmd_has_reply(uint8_t cmd)
{
	return cmd != MP_COM_QUIT && cmd != MP_COM_STMT_CLOSE && cmd != MP_COM_STMT_SEND_LONG_DATA;
}

void
mp_resp_begin(struct mp_resp *r, uint8_t cmd, bool deprecate_eof)
{
	r->cmd = cmd;
	r->deprecate_eof = deprecate_eof;
	r->in_cont = false;
	r->left = 0;
	r->prep_cols = 0;
	r->status = 0;
	switch (cmd) {
	case MP_COM_QUERY:
	case MP_COM_STMT_EXECUTE:
		r->state = MP_RESP_FIRST;
		break;
	case MP_COM_STMT_FETCH:
		r->state = MP_RESP_ROWS;
		break;
	case MP_COM_STMT_PREPARE:
		r->state = MP_RESP_PREPARE;
		break;
	case MP_COM_FIELD_LIST:
		r->state = MP_RESP_FIELDS;
		break;
	case MP_COM_STATISTICS:
		r->state = MP_RESP_SINGLE;
		break;
	default:
		r->state = MP_RESP_SIMPLE;
		break;
	}
}

/* Decodes a terminator candidate (OK or EOF) into <ev>; needs the whole payload. */
static enum mp_rc
mp_resp_terminator(struct mp_resp *r, const uint8_t *p, size_t avail, uint32_t len,
		   struct mp_resp_event *ev)
{
	struct mp_ok ok;
	uint16_t warnings;

	if (avail < len) {
		return MP_NEED_MORE;
	}
	if (p[0] == MP_EOF_HDR && !r->deprecate_eof) {
		if (mp_eof_read(p, len, &warnings, &ev->status) != MP_OK) {
			return MP_MALFORMED;
		}
		ev->kind = MP_PKT_EOF;
	} else {
		if (mp_ok_read(p, len, true, &ok) != MP_OK) {
			return MP_MALFORMED;
		}
		ev->kind = MP_PKT_OK;
		ev->status = ok.status;
	}
	r->status = ev->status;
	return MP_OK;
}

/* The end of one result: either another follows (MORE_RESULTS) or the response is done. */
static void
mp_resp_result_end(struct mp_resp *r, struct mp_resp_event *ev)
{
	if (ev->status & MP_STATUS_MORE_RESULTS) {
		r->state = MP_RESP_FIRST;
	} else {
		r->state = MP_RESP_DONE;
		ev->done = true;
	}
}

static bool
mp_resp_is_term(const struct mp_resp *r, const uint8_t *p, uint32_t len)
{
	if (len == 0 || p[0] != MP_EOF_HDR || len >= MP_MAX_PAYLOAD) {
		return false;
	}
	return r->deprecate_eof || len < 9;
}

static enum mp_rc
mp_resp_first(struct mp_resp *r, const uint8_t *p, size_t avail, uint32_t len,
	      struct mp_resp_event *ev)
{
	struct mp_cursor c;
	enum mp_rc rc;

	if (len == 0) {
		return MP_MALFORMED;
	}
	if (p[0] == MP_OK_HDR) {
		rc = mp_resp_terminator(r, p, avail, len, ev);
		if (rc == MP_OK) {
			mp_resp_result_end(r, ev);
		}
		return rc;
	}
	if (p[0] == 0xfb) {
		return MP_MALFORMED; /* LOCAL INFILE request: LOCAL_FILES is never negotiated */
	}
	mp_cursor_init(&c, p, avail);
	if (mp_lenenc_read(&c, &r->left) != MP_OK || r->left == 0) {
		return MP_MALFORMED;
	}
	r->state = MP_RESP_COLDEFS;
	return MP_OK;
}

static enum mp_rc
mp_resp_prepare(struct mp_resp *r, const uint8_t *p, size_t avail, uint32_t len)
{
	struct mp_cursor c;
	uint32_t id;
	uint16_t params;
	uint8_t hdr;

	mp_cursor_init(&c, p, avail);
	if (len < 9 || mp_u8_read(&c, &hdr) != MP_OK || hdr != MP_OK_HDR ||
	    mp_u32_read(&c, &id) != MP_OK || mp_u16_read(&c, &r->prep_cols) != MP_OK ||
	    mp_u16_read(&c, &params) != MP_OK) {
		return MP_MALFORMED;
	}
	r->left = params;
	r->state = params > 0 ? MP_RESP_PREP_PARAMS : MP_RESP_PREP_PEOF;
	return MP_OK;
}

/* After the parameter block (and its EOF): the column block, or the end. */
static void
mp_resp_prep_after_params(struct mp_resp *r, struct mp_resp_event *ev)
{
	if (r->prep_cols > 0) {
		r->left = r->prep_cols;
		r->state = MP_RESP_PREP_COLS;
	} else {
		r->state = MP_RESP_DONE;
		ev->done = true;
	}
}

/* One definition of a block; at the block's end go to <eof_state> or, without EOFs, skip it. */
static void
mp_resp_def(struct mp_resp *r, enum mp_resp_state eof_state)
{
	if (--r->left == 0) {
		r->state = eof_state;
	}
}

static enum mp_rc
mp_resp_eof_state(struct mp_resp *r, const uint8_t *p, size_t avail, uint32_t len,
		  struct mp_resp_event *ev)
{
	enum mp_rc rc;

	if (len == 0 || p[0] != MP_EOF_HDR) {
		return MP_MALFORMED;
	}
	rc = mp_resp_terminator(r, p, avail, len, ev);
	if (rc != MP_OK) {
		return rc;
	}
	switch (r->state) {
	case MP_RESP_COLDEF_EOF:
		if (ev->status & MP_STATUS_CURSOR_EXISTS) {
			r->state = MP_RESP_DONE; /* EXECUTE opened a cursor: rows come by FETCH */
			ev->done = true;
		} else {
			r->state = MP_RESP_ROWS;
		}
		break;
	case MP_RESP_PREP_PEOF:
		mp_resp_prep_after_params(r, ev);
		break;
	default: /* MP_RESP_PREP_CEOF */
		r->state = MP_RESP_DONE;
		ev->done = true;
		break;
	}
	return MP_OK;
}

/* States whose packets are definitions or rows; terminators and ERR are handled by the caller. */
static enum mp_rc
mp_resp_body(struct mp_resp *r, const uint8_t *p, size_t avail, uint32_t len,
	     struct mp_resp_event *ev)
{
	enum mp_rc rc;

	switch (r->state) {
	case MP_RESP_COLDEFS:
		mp_resp_def(r, r->deprecate_eof ? MP_RESP_ROWS : MP_RESP_COLDEF_EOF);
		return MP_OK;
	case MP_RESP_PREP_PARAMS:
		mp_resp_def(r, MP_RESP_PREP_PEOF);
		if (r->state == MP_RESP_PREP_PEOF && r->deprecate_eof) {
			mp_resp_prep_after_params(r, ev);
		}
		return MP_OK;
	case MP_RESP_PREP_COLS:
		mp_resp_def(r, MP_RESP_PREP_CEOF);
		if (r->state == MP_RESP_PREP_CEOF && r->deprecate_eof) {
			r->state = MP_RESP_DONE;
			ev->done = true;
		}
		return MP_OK;
	case MP_RESP_ROWS:
	case MP_RESP_FIELDS:
		if (mp_resp_is_term(r, p, len)) {
			rc = mp_resp_terminator(r, p, avail, len, ev);
			if (rc == MP_OK) {
				mp_resp_result_end(r, ev);
			}
			return rc;
		}
		r->in_cont = len == MP_MAX_PAYLOAD;
		return MP_OK;
	default:
		return MP_MALFORMED;
	}
}

enum mp_rc
mp_resp_feed(struct mp_resp *r, const uint8_t *p, size_t avail, uint32_t len,
	     struct mp_resp_event *ev)
{
	enum mp_rc rc;
	struct mp_resp save = *r;

	ev->kind = MP_PKT_DATA;
	ev->done = false;
	ev->status = 0;
	if (avail < len && avail < MP_RESP_PEEK) {
		return MP_NEED_MORE;
	}
	if (r->in_cont) {
		r->in_cont = len == MP_MAX_PAYLOAD;
		return MP_OK;
	}
	if (r->state == MP_RESP_DONE) {
		return MP_MALFORMED; /* a packet after the end of the response */
	}
	if (len > 0 && p[0] == MP_ERR_HDR && r->state != MP_RESP_SINGLE) {
		ev->kind = MP_PKT_ERR;
		ev->done = true;
		r->state = MP_RESP_DONE;
		return MP_OK;
	}
	switch (r->state) {
	case MP_RESP_FIRST:
		rc = mp_resp_first(r, p, avail, len, ev);
		break;
	case MP_RESP_PREPARE:
		rc = mp_resp_prepare(r, p, avail, len);
		if (rc == MP_OK && r->state == MP_RESP_PREP_PEOF) {
			mp_resp_prep_after_params(r, ev); /* no parameters: no parameter EOF either */
		}
		break;
	case MP_RESP_COLDEF_EOF:
	case MP_RESP_PREP_PEOF:
	case MP_RESP_PREP_CEOF:
		rc = mp_resp_eof_state(r, p, avail, len, ev);
		break;
	case MP_RESP_SIMPLE:
		if (len == 0 || (p[0] != MP_OK_HDR && p[0] != MP_EOF_HDR)) {
			return MP_MALFORMED;
		}
		rc = mp_resp_terminator(r, p, avail, len, ev);
		if (rc == MP_OK) {
			r->state = MP_RESP_DONE;
			ev->done = true;
		}
		break;
	case MP_RESP_SINGLE:
		r->state = MP_RESP_DONE;
		ev->done = true;
		rc = MP_OK;
		break;
	default:
		rc = mp_resp_body(r, p, avail, len, ev);
		break;
	}
	if (rc != MP_OK) {
		*r = save; /* NEED_MORE must leave the state untouched */
	}
	return rc;
}
