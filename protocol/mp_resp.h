/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol/mp_resp.h - follows a server's response to one client command, packet by packet,
 * looking at no more than each packet's first bytes (whole payload only for OK/EOF/ERR), so a
 * proxy can stream rows without decoding them and still knows where the response ends, which
 * packets are terminators, and the final server status. Pure; no allocation.
 */
#ifndef MYSHARD_PROTOCOL_MP_RESP_H
#define MYSHARD_PROTOCOL_MP_RESP_H

#include "protocol/mp_packet.h"

/* Command bytes. */
#define MP_COM_SLEEP             0x00
#define MP_COM_QUIT              0x01
#define MP_COM_INIT_DB           0x02
#define MP_COM_QUERY             0x03
#define MP_COM_FIELD_LIST        0x04
#define MP_COM_CREATE_DB         0x05
#define MP_COM_DROP_DB           0x06
#define MP_COM_REFRESH           0x07
#define MP_COM_SHUTDOWN          0x08
#define MP_COM_STATISTICS        0x09
#define MP_COM_PROCESS_INFO      0x0a
#define MP_COM_CONNECT           0x0b
#define MP_COM_PROCESS_KILL      0x0c
#define MP_COM_DEBUG             0x0d
#define MP_COM_PING              0x0e
#define MP_COM_TIME              0x0f
#define MP_COM_DELAYED_INSERT    0x10
#define MP_COM_CHANGE_USER       0x11
#define MP_COM_BINLOG_DUMP       0x12
#define MP_COM_TABLE_DUMP        0x13
#define MP_COM_CONNECT_OUT       0x14
#define MP_COM_REGISTER_SLAVE    0x15
#define MP_COM_STMT_PREPARE      0x16
#define MP_COM_STMT_EXECUTE      0x17
#define MP_COM_STMT_SEND_LONG_DATA 0x18
#define MP_COM_STMT_CLOSE        0x19
#define MP_COM_STMT_RESET        0x1a
#define MP_COM_SET_OPTION        0x1b
#define MP_COM_STMT_FETCH        0x1c
#define MP_COM_DAEMON            0x1d
#define MP_COM_BINLOG_DUMP_GTID  0x1e
#define MP_COM_RESET_CONNECTION  0x1f

/* Bytes of a payload mp_resp_feed() needs to see for a non-terminator packet. */
#define MP_RESP_PEEK 16

enum mp_resp_state {
	MP_RESP_FIRST = 0,    /* first packet of a result: OK, ERR or column count */
	MP_RESP_COLDEFS,      /* <left> column definitions to go */
	MP_RESP_COLDEF_EOF,   /* the EOF that closes definitions (no DEPRECATE_EOF) */
	MP_RESP_ROWS,         /* rows until EOF/OK terminator or ERR */
	MP_RESP_PREPARE,      /* COM_STMT_PREPARE: prepare-OK or ERR */
	MP_RESP_PREP_PARAMS,  /* <left> parameter definitions to go */
	MP_RESP_PREP_PEOF,    /* EOF after parameter definitions */
	MP_RESP_PREP_COLS,    /* <left> column definitions to go */
	MP_RESP_PREP_CEOF,    /* EOF after column definitions */
	MP_RESP_FIELDS,       /* COM_FIELD_LIST: definitions until EOF or ERR */
	MP_RESP_SIMPLE,       /* one OK, EOF or ERR */
	MP_RESP_SINGLE,       /* one packet of any shape (COM_STATISTICS) */
	MP_RESP_DONE,         /* [terminal] response complete */
	MP_RESP_NSTATES
};

enum mp_pkt_kind {
	MP_PKT_DATA = 0, /* forward as is: column count, definition, row, continuation */
	MP_PKT_OK,       /* OK packet (00, or fe terminator under DEPRECATE_EOF) */
	MP_PKT_EOF,      /* legacy EOF */
	MP_PKT_ERR,      /* ERR */
};

struct mp_resp {
	enum mp_resp_state state;
	uint8_t cmd;
	bool deprecate_eof; /* the server leg negotiated CLIENT_DEPRECATE_EOF */
	bool in_cont;       /* the previous packet had MP_MAX_PAYLOAD bytes: this one continues it */
	uint64_t left;      /* definitions left in the current block */
	uint16_t prep_cols; /* COM_STMT_PREPARE: column definitions after the parameters */
	uint16_t status;    /* status of the last OK/EOF seen */
};

struct mp_resp_event {
	enum mp_pkt_kind kind;
	bool done;       /* this packet completes the response */
	uint16_t status; /* OK/EOF only: server status flags */
};

/* True if the server answers <cmd> at all (QUIT, STMT_CLOSE and SEND_LONG_DATA: no reply). */
bool mp_cmd_has_reply(uint8_t cmd) MS_MUSTCHECK;
/* Starts tracking the response to <cmd>. <cmd> must be one the server answers. */
void mp_resp_begin(struct mp_resp *r, uint8_t cmd, bool deprecate_eof);
/*
 * Feeds one packet whose header announced <len> payload bytes. <p> holds the first <avail>
 * bytes of that payload; <avail> must be at least min(len, MP_RESP_PEEK). Returns MP_NEED_MORE
 * (state unchanged) when the packet is an OK/EOF/ERR and the whole payload is needed: call
 * again with avail == len. MP_MALFORMED: the server broke the protocol (or asked for LOCAL
 * INFILE, which is never negotiated). On MP_OK fills <ev>.
 */
enum mp_rc mp_resp_feed(struct mp_resp *r, const uint8_t *p, size_t avail, uint32_t len,
			struct mp_resp_event *ev) MS_MUSTCHECK;

#endif /* MYSHARD_PROTOCOL_MP_RESP_H */
