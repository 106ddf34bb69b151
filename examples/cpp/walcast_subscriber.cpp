/*
 * walcast_subscriber.cpp: an example walcast subscriber, in C++
 *
 * The same program as examples/python/walcast_subscriber.py, line for line
 * where it matters: it connects to `walcast relay` and prints one line of
 * JSON per transaction it applies, byte for byte as the Python one does.
 * Two modes:
 *
 *   durable (default)   a DEALER socket on the relay's durable channel, as a
 *                       subscriber declared with `--subscriber NAME[:TOKEN]`:
 *                       Hello, credit, acknowledgements, nothing lost
 *   ephemeral           a SUB socket on the publish socket (--publish): no
 *                       acknowledgements, gaps reported per topic
 *
 * How it drops duplicates (proto/walcast/v1/README.md, "Through the relay"):
 * a transaction is buffered from Begin (or BeginPrepare) to its Commit (or
 * Prepare); a Begin arriving while one is open means the open one was cut
 * off, so it is dropped (it comes again whole); a transaction whose end_lsn
 * is at or below the last applied one is skipped; the last applied end_lsn
 * is kept in the state file (--state), replaced atomically, and sent as
 * Hello.applied_lsn and as Ack.
 *
 * Built by the Makefile beside it: protoc --cpp_out, libprotobuf, and
 * libzmq through cppzmq's zmq.hpp.
 */
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <getopt.h>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "walcast/v1/relay.pb.h"
#include "walcast/v1/walcast.pb.h"

namespace pb = walcast::v1;

static const char *const PROG = "walcast_subscriber";

enum ExitCode
{
	EXIT_OK = 0,
	EXIT_FAILURE_ = 1,			/* could not run: bad state file, lost message */
	EXIT_USAGE = 2,
	EXIT_EVICTED = 3,			/* must resynchronize */
	EXIT_UNKNOWN_SUBSCRIBER = 4,
	EXIT_BAD_TOKEN = 5,
	EXIT_PROTOCOL = 6
};

static const double HELLO_RETRY_SECS = 2.0;	/* resend Hello when unanswered */
static const double SILENCE_MIN_SECS = 5.0;	/* the relay is gone after this
												 * long without a word (or
												 * twice its session timeout) */

/* An error that ends the program with an exit code */
struct Fatal
{
	std::string message;
	int			code;
	std::string hint;

	explicit Fatal(std::string m, int c = EXIT_FAILURE_, std::string h = "")
		: message(std::move(m)), code(c), hint(std::move(h)) {}
};

static void
log_line(const char *level, const std::string &message)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, level, message.c_str());
	fflush(stderr);
}

static std::string
strprintf(const char *fmt, ...)
{
	va_list		ap;
	char		buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static std::string
fmt_lsn(uint64_t lsn)
{
	return strprintf("%X/%X", (unsigned) (lsn >> 32), (unsigned) lsn);
}

static bool
parse_lsn(const std::string &text, uint64_t *lsn)
{
	unsigned	hi,
				lo;
	int			used = 0;

	if (sscanf(text.c_str(), "%X/%X%n", &hi, &lo, &used) != 2 ||
		(size_t) used != text.size())
		return false;
	*lsn = ((uint64_t) hi << 32) | lo;
	return true;
}

static double
now_secs()
{
	return std::chrono::duration<double>(
		std::chrono::steady_clock::now().time_since_epoch()).count();
}

/*
 * JSON output, written by hand so that it is the same bytes as the Python
 * example's: compact, keys in a fixed order, non-ASCII as UTF-8, control
 * characters as \u00xx except the short escapes, floats in their shortest
 * round-trip form laid out as Python's repr lays them out.
 */
static std::string
json_str(const std::string &s)
{
	std::string out = "\"";

	for (unsigned char ch : s)
	{
		switch (ch)
		{
			case '"': out += "\\\""; break;
			case '\\': out += "\\\\"; break;
			case '\n': out += "\\n"; break;
			case '\t': out += "\\t"; break;
			case '\r': out += "\\r"; break;
			case '\b': out += "\\b"; break;
			case '\f': out += "\\f"; break;
			default:
				if (ch < 0x20)
					out += strprintf("\\u%04x", ch);
				else
					out += (char) ch;
		}
	}
	return out + "\"";
}

/* a float or double: shortest digits for its own width, as repr writes them */
template<typename T>
static std::string
json_float(T x)
{
	char		buf[64];
	std::string sign,
				digits;
	int			exp;

	if (std::isnan(x))
		return "\"NaN\"";
	if (std::isinf(x))
		return x > 0 ? "\"Infinity\"" : "\"-Infinity\"";
	if (std::signbit(x))
		sign = "-";
	auto		res = std::to_chars(buf, buf + sizeof(buf), std::fabs(x),
									std::chars_format::scientific);
	std::string sci(buf, res.ptr);	/* "1.25e+02" */
	size_t		e = sci.find('e');

	for (size_t i = 0; i < e; i++)
		if (sci[i] != '.')
			digits += sci[i];
	while (digits.size() > 1 && digits.back() == '0')
		digits.pop_back();
	exp = atoi(sci.c_str() + e + 1);
	if (exp < -4 || exp >= 16)
		return sign + digits.substr(0, 1) +
			(digits.size() > 1 ? "." + digits.substr(1) : "") +
			strprintf("e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
	if (exp < 0)
		return sign + "0." + std::string(-exp - 1, '0') + digits;
	std::string whole = digits.substr(0, std::min<size_t>(digits.size(), exp + 1));

	whole.resize(exp + 1, '0');
	return sign + whole + "." +
		(digits.size() > (size_t) exp + 1 ? digits.substr(exp + 1) : "0");
}

static std::string
hex(const std::string &bytes)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;

	for (unsigned char b : bytes)
	{
		out += digits[b >> 4];
		out += digits[b & 15];
	}
	return out;
}

static std::string
base64(const std::string &bytes)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	std::string out;
	size_t		i;

	for (i = 0; i + 2 < bytes.size(); i += 3)
	{
		uint32_t	n = ((unsigned char) bytes[i] << 16) |
			((unsigned char) bytes[i + 1] << 8) | (unsigned char) bytes[i + 2];

		out += alphabet[n >> 18];
		out += alphabet[(n >> 12) & 63];
		out += alphabet[(n >> 6) & 63];
		out += alphabet[n & 63];
	}
	if (i < bytes.size())
	{
		uint32_t	n = (unsigned char) bytes[i] << 16;

		if (i + 1 < bytes.size())
			n |= (unsigned char) bytes[i + 1] << 8;
		out += alphabet[n >> 18];
		out += alphabet[(n >> 12) & 63];
		out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
		out += '=';
	}
	return out;
}

template<typename List>
static std::string
join_ints(const List &list)
{
	std::string out;

	for (int i = 0; i < list.size(); i++)
		out += (i ? "," : "") + std::to_string(list.Get(i));
	return out;
}

/* one Value as JSON text (examples/README.md has the mapping) */
static std::string
json_value(const pb::Value &v)
{
	switch (v.kind_case())
	{
		case pb::Value::kMarker:
			return v.marker() == pb::MARKER_UNCHANGED_TOAST ?
				"{\"unchanged_toast\":true}" : "null";
		case pb::Value::kBoolValue:
			return v.bool_value() ? "true" : "false";
		case pb::Value::kIntValue:
			return std::to_string(v.int_value());
		case pb::Value::kUintValue:
			return std::to_string(v.uint_value());
		case pb::Value::kTimestampValue:
			return std::to_string(v.timestamp_value());
		case pb::Value::kDateValue:
			return std::to_string(v.date_value());
		case pb::Value::kTimeValue:
			return std::to_string(v.time_value());
		case pb::Value::kFloat4Value:
			return json_float(v.float4_value());
		case pb::Value::kFloat8Value:
			return json_float(v.float8_value());
		case pb::Value::kTextValue:
			return json_str(v.text_value());
		case pb::Value::kNumericValue:
			return json_str(v.numeric_value());
		case pb::Value::kJsonValue:
			return json_str(v.json_value());
		case pb::Value::kEnumValue:
			return json_str(v.enum_value());
		case pb::Value::kPgText:
			return json_str(v.pg_text());
		case pb::Value::kBytesValue:
			return "{\"bytes\":\"" + hex(v.bytes_value()) + "\"}";
		case pb::Value::kUuidValue:
			{
				std::string h = hex(v.uuid_value());

				if (h.size() != 32)
					return "{\"bytes\":\"" + h + "\"}";
				return "\"" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-" +
					h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20) + "\"";
			}
		case pb::Value::kTimetzValue:
			return strprintf("{\"time\":%lld,\"utc_offset\":%d}",
							 (long long) v.timetz_value().time(),
							 v.timetz_value().utc_offset());
		case pb::Value::kIntervalValue:
			return strprintf("{\"months\":%d,\"days\":%d,\"microseconds\":%lld}",
							 v.interval_value().months(), v.interval_value().days(),
							 (long long) v.interval_value().microseconds());
		case pb::Value::kArrayValue:
			{
				const pb::Array &a = v.array_value();
				std::string elements;

				for (int i = 0; i < a.elements_size(); i++)
					elements += (i ? "," : "") + json_value(a.elements(i));
				return "{\"dims\":[" + join_ints(a.dimensions()) + "],\"lower\":[" +
					join_ints(a.lower_bounds()) + "],\"elements\":[" + elements + "]}";
			}
		default:
			return "null";		/* not set, or a kind newer than this program */
	}
}

/* Relations and changes */
struct Relation
{
	std::string name;			/* "schema.table" */
	std::vector<std::string> columns;
};

class Decoder
{
  public:
	/* the JSON text of one change, or nothing for bodies that are not one */
	std::optional<std::string> change(const pb::Envelope &env);

  private:
	std::map<uint32_t, Relation> relations;

	const Relation &relation(uint32_t rel_id);
	std::string json_row(const Relation &rel, const pb::Tuple &row);
};

const Relation &
Decoder::relation(uint32_t rel_id)
{
	auto		it = relations.find(rel_id);

	if (it == relations.end())
		throw Fatal(strprintf("received a row of relation %u without its definition", rel_id),
					EXIT_FAILURE_,
					"A message was lost in transport; this is a bug in the relay.");
	return it->second;
}

std::string
Decoder::json_row(const Relation &rel, const pb::Tuple &row)
{
	std::string out = "{";
	bool		first = true;

	if ((size_t) row.values_size() != rel.columns.size())
		throw Fatal(strprintf("a row of table \"%s\" has %d values for %zu columns",
							  rel.name.c_str(), row.values_size(), rel.columns.size()));
	for (int i = 0; i < row.values_size(); i++)
	{
		const pb::Value &v = row.values(i);

		if (v.kind_case() == pb::Value::kMarker && v.marker() == pb::MARKER_NOT_IN_KEY)
			continue;
		out += (first ? "" : ",") + json_str(rel.columns[i]) + ":" + json_value(v);
		first = false;
	}
	return out + "}";
}

std::optional<std::string>
Decoder::change(const pb::Envelope &env)
{
	switch (env.body_case())
	{
		case pb::Envelope::kRelation:
			{
				Relation	rel;

				rel.name = env.relation().schema() + "." + env.relation().name();
				for (const auto &c : env.relation().columns())
					rel.columns.push_back(c.name());
				relations[env.relation().rel_id()] = rel;
				return std::nullopt;
			}
		case pb::Envelope::kInsert:
			{
				const Relation &rel = relation(env.insert().rel_id());

				return "{\"kind\":\"insert\",\"table\":" + json_str(rel.name) +
					",\"new\":" + json_row(rel, env.insert().new_row()) + "}";
			}
		case pb::Envelope::kUpdate:
			{
				const pb::Update &u = env.update();
				const Relation &rel = relation(u.rel_id());

				return "{\"kind\":\"update\",\"table\":" + json_str(rel.name) +
					",\"old\":" + (u.has_old_row() ? json_row(rel, u.old_row()) : "null") +
					",\"new\":" + json_row(rel, u.new_row()) + "}";
			}
		case pb::Envelope::kDelete:
			{
				const pb::Delete &d = env.delete_();
				const Relation &rel = relation(d.rel_id());

				return "{\"kind\":\"delete\",\"table\":" + json_str(rel.name) +
					",\"old\":" + (d.has_old_row() ? json_row(rel, d.old_row()) : "null") +
					"}";
			}
		case pb::Envelope::kTruncate:
			{
				const pb::Truncate &t = env.truncate();
				std::string tables;

				for (int i = 0; i < t.rel_ids_size(); i++)
					tables += (i ? "," : "") + json_str(relation(t.rel_ids(i)).name);
				return "{\"kind\":\"truncate\",\"tables\":[" + tables +
					"],\"cascade\":" + (t.cascade() ? "true" : "false") +
					",\"restart_identity\":" + (t.restart_identity() ? "true" : "false") +
					"}";
			}
		case pb::Envelope::kMessage:
			return "{\"kind\":\"message\",\"prefix\":" + json_str(env.message().prefix()) +
				",\"content\":\"" + base64(env.message().content()) + "\"}";
		case pb::Envelope::kSchemaChange:
			return "{\"kind\":\"schema_change\",\"command_tag\":" +
				json_str(env.schema_change().command_tag()) + ",\"ddl\":" +
				json_str(env.schema_change().ddl()) + "}";
		default:
			return std::nullopt;
	}
}

/*
 * The state file: the positions applied, in a small text file
 *
 *     applied X/X     end_lsn of the last transaction applied
 *     message X/X     lsn of the last non-transactional message applied
 *
 * Written to FILE.tmp, fsynced, renamed over FILE.  To keep the window in
 * which a crash duplicates a transaction as small as possible, the new file
 * is written and fsynced before the transaction is printed and renamed into
 * place right after (see Subscriber::apply).
 */
class State
{
  public:
	uint64_t	applied = 0;
	uint64_t	message = 0;

	explicit State(const char *path);
	void		prepare(uint64_t applied, uint64_t message);
	void		commit(uint64_t applied, uint64_t message);

  private:
	std::string path;			/* empty: nothing kept */
};

State::State(const char *p)
{
	FILE	   *f;
	char		line[256];

	if (p == nullptr)
		return;
	path = p;
	if ((f = fopen(p, "r")) == nullptr)
	{
		if (errno == ENOENT)
			return;
		throw Fatal(strprintf("could not read state file \"%s\": %s", p, strerror(errno)));
	}
	while (fgets(line, sizeof(line), f))
	{
		std::string l(line);
		size_t		sp;
		bool		ok = false;

		while (!l.empty() && (l.back() == '\n' || l.back() == ' '))
			l.pop_back();
		if (l.empty())
			continue;
		sp = l.find(' ');
		if (sp != std::string::npos && l.compare(0, sp, "applied") == 0)
			ok = parse_lsn(l.substr(sp + 1), &applied);
		else if (sp != std::string::npos && l.compare(0, sp, "message") == 0)
			ok = parse_lsn(l.substr(sp + 1), &message);
		if (!ok)
		{
			fclose(f);
			throw Fatal(strprintf("could not read state file \"%s\": invalid line \"%s\"",
								  p, l.c_str()));
		}
	}
	fclose(f);
}

void
State::prepare(uint64_t new_applied, uint64_t new_message)
{
	std::string tmp = path + ".tmp";
	std::string text;
	int			fd;

	if (path.empty())
		return;
	text = "applied " + fmt_lsn(new_applied) + "\nmessage " + fmt_lsn(new_message) + "\n";
	fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text.data(), text.size()) != (ssize_t) text.size() ||
		fsync(fd) != 0)
	{
		int			save_errno = errno;

		if (fd >= 0)
			close(fd);
		throw Fatal(strprintf("could not write state file \"%s\": %s",
							  tmp.c_str(), strerror(save_errno)));
	}
	close(fd);
}

void
State::commit(uint64_t new_applied, uint64_t new_message)
{
	std::string dir;
	int			fd;

	applied = new_applied;
	message = new_message;
	if (path.empty())
		return;
	if (rename((path + ".tmp").c_str(), path.c_str()) != 0)
		throw Fatal(strprintf("could not rename state file \"%s\": %s",
							  path.c_str(), strerror(errno)));
	dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
	if ((fd = open(dir.c_str(), O_RDONLY)) >= 0)
	{
		fsync(fd);
		close(fd);
	}
}

/* Transactions and deduplication */
struct Transaction
{
	uint64_t	end_lsn = 0;
	uint32_t	xid = 0;
	bool		skip = false;	/* applied before: drop it at its end */
	std::vector<std::string> changes;	/* JSON text of each change, in order */
	std::vector<std::pair<uint32_t, std::string>> streamed; /* (xid, JSON) */
};

/*
 * Applies whole transactions once, whatever the transport repeats.
 *
 * process() takes each Envelope in stream order and returns the end_lsn of
 * a transaction it applied (to acknowledge), or 0.
 */
class Subscriber
{
  public:
	State		state;
	bool		verbose;

	Subscriber(const char *state_path, bool verbose_)
		: state(state_path), verbose(verbose_) {}
	void		reset_session();
	uint64_t	process(const pb::Envelope &env);

  private:
	Decoder		decoder;
	std::optional<Transaction> open;	/* between Begin and Commit */
	std::map<uint32_t, Transaction> streams;	/* top-level xid, while streaming */
	std::optional<uint32_t> stream_xid; /* of the open streamed segment */
	bool		warned_outside = false; /* about a change outside a transaction */

	uint64_t	apply(uint64_t end_lsn, uint32_t xid,
					  const std::vector<std::string> &changes, bool is_message);
	void		begin(uint64_t end_lsn, uint32_t xid);
	uint64_t	finish(uint64_t end_lsn, const char *kind);
	uint64_t	settle(const pb::Envelope &env, const char *kind, uint64_t end_lsn);
};

/* a new session starts at a transaction boundary: drop what is open */
void
Subscriber::reset_session()
{
	open.reset();
	streams.clear();
	stream_xid.reset();
}

/* print one transaction and record it; the caller has deduplicated */
uint64_t
Subscriber::apply(uint64_t end_lsn, uint32_t xid,
				  const std::vector<std::string> &changes, bool is_message)
{
	uint64_t	applied = is_message ? state.applied : end_lsn;
	uint64_t	message = is_message ? end_lsn : state.message;
	std::string line = "{\"end_lsn\":\"" + fmt_lsn(end_lsn) + "\",\"xid\":" +
		std::to_string(xid) + ",\"changes\":[";

	for (size_t i = 0; i < changes.size(); i++)
		line += (i ? "," : "") + changes[i];
	line += "]}\n";

	/*
	 * XXX: printing and recording cannot be one atomic step here, so a crash
	 * between the two (a few microseconds) repeats this line after a restart;
	 * a real subscriber stores end_lsn in the same database transaction as
	 * the data it applies.
	 */
	state.prepare(applied, message);
	if (fwrite(line.data(), 1, line.size(), stdout) != line.size() || fflush(stdout) != 0)
		throw Fatal(strprintf("could not write to standard output: %s", strerror(errno)));
	state.commit(applied, message);
	return is_message ? 0 : end_lsn;
}

void
Subscriber::begin(uint64_t end_lsn, uint32_t xid)
{
	if (open && verbose)
		log_line("info", "dropped the transaction ending at " + fmt_lsn(open->end_lsn) +
				 ", cut off before its end; it comes again");
	open = Transaction();
	open->end_lsn = end_lsn;
	open->xid = xid;
	open->skip = end_lsn <= state.applied;
}

/* Commit or Prepare: apply the open transaction */
uint64_t
Subscriber::finish(uint64_t end_lsn, const char *kind)
{
	std::optional<Transaction> txn;

	txn.swap(open);
	if (!txn || txn->end_lsn != end_lsn)
	{
		log_line("warning", strprintf("received a %s at %s without its Begin; ignored",
									  kind, fmt_lsn(end_lsn).c_str()));
		return 0;
	}
	if (txn->skip || end_lsn <= state.applied)
		return 0;
	return apply(end_lsn, txn->xid, txn->changes, false);
}

/* CommitPrepared, RollbackPrepared: a line of their own */
uint64_t
Subscriber::settle(const pb::Envelope &env, const char *kind, uint64_t end_lsn)
{
	if (end_lsn <= state.applied)
		return 0;
	return apply(end_lsn, env.xid(), {strprintf("{\"kind\":\"%s\"}", kind)}, false);
}

uint64_t
Subscriber::process(const pb::Envelope &env)
{
	std::optional<std::string> change;

	switch (env.body_case())
	{
		case pb::Envelope::kBegin:
			begin(env.begin().end_lsn(), env.xid());
			return 0;
		case pb::Envelope::kBeginPrepare:
			begin(env.begin_prepare().end_lsn(), env.xid());
			return 0;
		case pb::Envelope::kCommit:
			return finish(env.commit().end_lsn(), "Commit");
		case pb::Envelope::kPrepare:
			return finish(env.prepare().end_lsn(), "Prepare");
		case pb::Envelope::kCommitPrepared:
			return settle(env, "commit_prepared", env.commit_prepared().end_lsn());
		case pb::Envelope::kRollbackPrepared:
			return settle(env, "rollback_prepared", env.rollback_prepared().end_lsn());
		case pb::Envelope::kStreamStart:
			if (env.stream_start().first_segment() || streams.count(env.xid()) == 0)
			{
				streams[env.xid()] = Transaction();
				streams[env.xid()].xid = env.xid();
			}
			stream_xid = env.xid();
			return 0;
		case pb::Envelope::kStreamStop:
			stream_xid.reset();
			return 0;
		case pb::Envelope::kStreamAbort:
			{
				auto		it = streams.find(env.xid());

				if (it == streams.end())
					return 0;
				if (env.stream_abort().sub_xid() == env.xid())
					streams.erase(it);
				else
				{
					auto	   &s = it->second.streamed;
					uint32_t	sub_xid = env.stream_abort().sub_xid();

					for (size_t i = s.size(); i-- > 0;)
						if (s[i].first == sub_xid)
							s.erase(s.begin() + i);
				}
				return 0;
			}
		case pb::Envelope::kStreamCommit:
		case pb::Envelope::kStreamPrepare:
			{
				uint64_t	end_lsn = env.body_case() == pb::Envelope::kStreamCommit ?
					env.stream_commit().end_lsn() : env.stream_prepare().end_lsn();
				auto		it = streams.find(env.xid());
				std::vector<std::string> changes;

				if (it == streams.end())
					return 0;
				for (auto &c : it->second.streamed)
					changes.push_back(c.second);
				streams.erase(it);
				if (end_lsn <= state.applied)
					return 0;
				return apply(end_lsn, env.xid(), changes, false);
			}
		default:
			break;
	}

	change = decoder.change(env);
	if (!change)
		return 0;				/* Relation, Startup, or a body we do not know */
	if (stream_xid && streams.count(*stream_xid))
		streams[*stream_xid].streamed.emplace_back(env.xid(), *change);
	else if (open)
	{
		if (!open->skip)
			open->changes.push_back(*change);
	}
	else if (env.body_case() == pb::Envelope::kMessage && !env.message().transactional())
	{
		/*
		 * identified by its own lsn: applied before when at or below the last
		 * one, or below the end of a transaction applied after it
		 */
		if (env.lsn() <= state.message || env.lsn() < state.applied)
			return 0;
		return apply(env.lsn(), 0, {*change}, true);
	}
	else if (!warned_outside)
	{
		/* once: with --topic and no "DB.." it would be every change */
		log_line("warning", "ignored a change at " + fmt_lsn(env.lsn()) +
				 " outside a transaction");
		log_line("hint", "Subscribe to the transactions' topic \"DB..\" too.");
		warned_outside = true;
	}
	return 0;
}

/* the command line */
struct Options
{
	std::string endpoint = "tcp://127.0.0.1:5556";
	const char *name = nullptr;
	const char *token = nullptr;
	const char *state = nullptr;
	long		credit = 1000;
	double		exit_after_idle = -1;	/* < 0: never */
	const char *publish = nullptr;
	std::vector<std::string> topics;
	bool		verbose = false;
};

static void
usage()
{
	printf("%s prints each transaction the walcast relay delivers as one line of\n"
		   "JSON, once, even across restarts.\n\n", PROG);
	printf("Usage:\n  %s --name=NAME [OPTION]...\n  %s --publish=ENDPOINT [OPTION]...\n",
		   PROG, PROG);
	printf("\nOptions:\n");
	printf("      --endpoint=ENDPOINT    the relay's durable socket (default \"tcp://127.0.0.1:5556\")\n");
	printf("      --name=NAME            durable subscriber name, as declared with the\n"
		   "                             relay's --subscriber\n");
	printf("      --token=TOKEN          its token, when the relay requires one\n");
	printf("      --state=FILE           file keeping the last applied position\n"
		   "                             (default: none, the relay's position is used)\n");
	printf("      --credit=N             messages the relay may send ahead (default 1000)\n");
	printf("      --exit-after-idle=SECS exit 0 after SECS without a delivery\n");
	printf("      --publish=ENDPOINT     ephemeral mode: subscribe to the relay's publish\n"
		   "                             socket instead (nothing is acknowledged)\n");
	printf("      --topic=PREFIX         with --publish: a topic prefix to subscribe to\n"
		   "                             (repeatable; default: everything)\n");
	printf("  -v, --verbose              say what happens on stderr\n");
	printf("  -?, --help                 show this help, then exit\n");
	printf("\nExit status: 0 idle or interrupted, 1 failure, 2 wrong usage, 3 evicted\n"
		   "(resynchronize), 4 unknown subscriber, 5 bad token, 6 protocol error.\n");
}

static void
usage_error(const std::string &message)
{
	log_line("error", message);
	log_line("hint", strprintf("Try \"%s --help\" for more information.", PROG));
	exit(EXIT_USAGE);
}

static Options
parse_options(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"endpoint", required_argument, nullptr, 1},
		{"name", required_argument, nullptr, 2},
		{"token", required_argument, nullptr, 3},
		{"state", required_argument, nullptr, 4},
		{"credit", required_argument, nullptr, 5},
		{"exit-after-idle", required_argument, nullptr, 6},
		{"publish", required_argument, nullptr, 7},
		{"topic", required_argument, nullptr, 8},
		{"verbose", no_argument, nullptr, 'v'},
		{nullptr, 0, nullptr, 0}
	};
	Options		opt;
	int			c;
	char	   *end;

	argv[0] = (char *) PROG;	/* how getopt names us in its messages */
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage();
		exit(EXIT_OK);
	}
	while ((c = getopt_long(argc, argv, "v", long_options, nullptr)) != -1)
	{
		switch (c)
		{
			case 1: opt.endpoint = optarg; break;
			case 2: opt.name = optarg; break;
			case 3: opt.token = optarg; break;
			case 4: opt.state = optarg; break;
			case 5:
				errno = 0;
				opt.credit = strtol(optarg, &end, 10);
				if (errno || *end || opt.credit < 1 || opt.credit > 1000000)
					usage_error(strprintf("invalid value \"%s\" for option --credit", optarg));
				break;
			case 6:
				errno = 0;
				opt.exit_after_idle = strtod(optarg, &end);
				if (errno || *end || opt.exit_after_idle < 0)
					usage_error(strprintf("invalid value \"%s\" for option --exit-after-idle",
										  optarg));
				break;
			case 7: opt.publish = optarg; break;
			case 8: opt.topics.push_back(optarg); break;
			case 'v': opt.verbose = true; break;
			default:
				log_line("hint", strprintf("Try \"%s --help\" for more information.", PROG));
				exit(EXIT_USAGE);
		}
	}
	if (optind < argc)
		usage_error(strprintf("too many command-line arguments (first is \"%s\")", argv[optind]));
	if (!opt.publish && !opt.name)
		usage_error("--name is required in durable mode");
	if (opt.publish && (opt.name || opt.token))
		usage_error("--name and --token are for durable mode, not --publish");
	if (!opt.topics.empty() && !opt.publish)
		usage_error("--topic needs --publish");
	return opt;
}

/* Durable mode */
static int
run_durable(const Options &opt, Subscriber &sub)
{
	zmq::context_t ctx;
	std::optional<zmq::socket_t> sock;
	std::optional<zmq::socket_t> monitor;	/* the socket's connection events */
	int			sockets_opened = 0;
	bool		session = false;	/* a Welcome was received */
	bool		hello_out = false;	/* a Hello went out on this connection */
	bool		connected = false;	/* the socket's handshake with the relay is done */
	double		ping_every = 5.0;
	double		silence_limit = SILENCE_MIN_SECS;
	double		last_received = now_secs();
	double		opened = 0,
				hello_sent = 0,
				last_sent = 0,
				last_delivery = now_secs();
	long		consumed = 0;	/* deliveries not yet given back as credit */
	uint64_t	acked = sub.state.applied;
	uint64_t	expected_seq = 1;

	/* false when there is no connection to send it on */
	auto		send = [&](const pb::SubscriberMessage &msg) {
		if (!sock->send(zmq::buffer(msg.SerializeAsString()), zmq::send_flags::dontwait))
			return false;		/* the Hello said when it is back carries it */
		last_sent = now_secs();
		return true;
	};
	auto		open_socket = [&]() {
		std::string endpoint = strprintf("inproc://walcast-subscriber-%d", ++sockets_opened);

		monitor.reset();
		sock.emplace(ctx, zmq::socket_type::dealer);
		sock->set(zmq::sockopt::linger, 0);

		/*
		 * Nothing is queued while there is no connection: a Credit or Ack
		 * said then would reach a restarted relay before our Hello.
		 */
		sock->set(zmq::sockopt::immediate, true);
		sock->set(zmq::sockopt::reconnect_ivl, 10);
		sock->set(zmq::sockopt::reconnect_ivl_max, 250);

		/*
		 * A restarted relay knows nothing of us and says nothing until we
		 * say Hello: the socket tells us when its connection drops and when
		 * it is back (after the handshake, when sending works again).
		 */
		if (zmq_socket_monitor(sock->handle(), endpoint.c_str(),
							   ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0)
			throw zmq::error_t();
		monitor.emplace(ctx, zmq::socket_type::pair);
		monitor->set(zmq::sockopt::linger, 0);
		monitor->connect(endpoint);
		sock->connect(opt.endpoint);
		hello_out = connected = false;
		opened = now_secs();
	};
	auto		hello = [&]() {
		pb::SubscriberMessage msg;
		pb::Hello  *h = msg.mutable_hello();

		session = false;
		consumed = 0;
		sub.reset_session();
		h->set_protocol_version(1);
		h->set_name(opt.name);
		h->set_token(opt.token ? opt.token : "");
		h->set_applied_lsn(sub.state.applied);
		h->set_credit(opt.credit);
		hello_out = send(msg);
		hello_sent = now_secs();
	};
	auto		take_events = [&]() {
		for (;;)
		{
			zmq::message_t frame;
			uint16_t	event = 0;

			/* an event is two frames: event number and value, then the address */
			if (!monitor->recv(frame, zmq::recv_flags::dontwait))
				return;
			if (frame.size() >= sizeof(event))
				memcpy(&event, frame.data(), sizeof(event));
			while (frame.more())
				(void) monitor->recv(frame, zmq::recv_flags::none);
			if (event == ZMQ_EVENT_DISCONNECTED)
			{
				/* whatever answers next may not know our session */
				if (session && opt.verbose)
					log_line("info", "lost the connection to the relay; saying Hello when it is back");
				session = connected = hello_out = false;
				hello_sent = now_secs();
			}
			else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
				connected = true;	/* the loop says Hello on it */
		}
	};

	open_socket();
	hello();
	for (;;)
	{
		double		now = now_secs();
		std::vector<zmq::message_t> frames;
		pb::RelayMessage msg;

		if (opt.exit_after_idle >= 0 && now - last_delivery >= opt.exit_after_idle)
		{
			if (session)
			{
				pb::SubscriberMessage bye;

				bye.mutable_bye();
				send(bye);
				sock->set(zmq::sockopt::linger, 500);	/* time for it to leave */
			}
			return EXIT_OK;
		}
		if (now - std::max(last_received, opened) >= silence_limit)
		{
			/*
			 * a relay alive but silent, or the network cut (no disconnection
			 * seen): a new socket, not a queue of Pings for a relay that may
			 * never read them
			 */
			if (session && opt.verbose)
				log_line("info", strprintf("no word from the relay for %d s; connecting again",
										   (int) (now - last_received)));
			open_socket();
			hello();
		}
		else if (!session && !hello_out && connected)
			hello();			/* connected (again), and not said yet */
		else if (!session && now - hello_sent >= HELLO_RETRY_SECS)
			hello();			/* no answer, or refused for now: again */
		else if (session && now - last_sent >= ping_every)
		{
			pb::SubscriberMessage ping;

			ping.mutable_ping();
			send(ping);
		}

		zmq::pollitem_t items[] = {
			{sock->handle(), 0, ZMQ_POLLIN, 0},
			{monitor->handle(), 0, ZMQ_POLLIN, 0},
		};

		if (zmq::poll(items, 2, std::chrono::milliseconds(100)) == 0)
			continue;
		if (items[1].revents & ZMQ_POLLIN)
			take_events();
		if (!(items[0].revents & ZMQ_POLLIN))
			continue;
		do
		{
			zmq::message_t frame;

			(void) sock->recv(frame, zmq::recv_flags::none);
			frames.push_back(std::move(frame));
		} while (frames.back().more());
		last_received = now_secs();

		if (!msg.ParseFromArray(frames[0].data(), (int) frames[0].size()))
		{
			log_line("warning", "ignored a message that is not a RelayMessage");
			continue;
		}
		switch (msg.body_case())
		{
			case pb::RelayMessage::kWelcome:
				{
					const pb::Welcome &w = msg.welcome();

					session = true;
					expected_seq = 1;
					ping_every = w.session_timeout() ?
						std::max(0.5, w.session_timeout() / 3.0) : 5.0;
					silence_limit = std::max(SILENCE_MIN_SECS, 2.0 * w.session_timeout());
					if (opt.verbose)
						log_line("info", strprintf("connected to slot \"%s\" of database \"%s\", resuming after %s",
												   w.slot().c_str(), w.database().c_str(),
												   fmt_lsn(w.resume_after_lsn()).c_str()));
					break;
				}
			case pb::RelayMessage::kRefusal:
				{
					const pb::Refusal &r = msg.refusal();
					Fatal		fatal{r.message()};

					switch (r.reason())
					{
						case pb::Refusal::REASON_NO_SESSION:

							/*
							 * one answer per message sent before our Hello:
							 * only the first one after a Welcome calls for a
							 * new Hello
							 */
							if (!session)
								continue;
							if (opt.verbose)
								log_line("info", "the relay does not know this session (it restarted); sending Hello again");
							hello();
							continue;
						case pb::Refusal::REASON_SHUTDOWN:
						case pb::Refusal::REASON_BUSY:
							if (opt.verbose)
								log_line("info", "relay refused: " + r.message() + "; retrying");
							session = false;
							hello_sent = now_secs();	/* retry after a while */
							continue;
						case pb::Refusal::REASON_EVICTED:
							fatal.code = EXIT_EVICTED;
							fatal.hint = "Resynchronize (take a new snapshot), then have the relay readmit the subscriber with --reset-subscriber.";
							break;
						case pb::Refusal::REASON_UNKNOWN_SUBSCRIBER:
							fatal.code = EXIT_UNKNOWN_SUBSCRIBER;
							fatal.hint = "Fix --name, or declare the subscriber with the relay's --subscriber option.";
							break;
						case pb::Refusal::REASON_BAD_TOKEN:
							fatal.code = EXIT_BAD_TOKEN;
							fatal.hint = "Fix --token.";
							break;
						case pb::Refusal::REASON_PROTOCOL:
							fatal.code = EXIT_PROTOCOL;
							break;
						default:
							break;
					}
					if (fatal.message.empty())
						fatal.message = strprintf("the relay refused the subscriber (%s)",
												  pb::Refusal::Reason_Name(r.reason()).c_str());
					throw fatal;
				}
			case pb::RelayMessage::kDelivery:
				{
					const pb::Delivery &d = msg.delivery();
					pb::Envelope env;
					uint64_t	lsn;

					if (!session)
						continue;	/* of the session our last Hello replaces */
					if (frames.size() != 2)
					{
						log_line("warning", "ignored a delivery without its envelope");
						continue;
					}
					if (d.sequence() != expected_seq)
					{
						log_line("warning", strprintf("delivery %llu after %llu: starting the session again",
													  (unsigned long long) d.sequence(),
													  (unsigned long long) expected_seq - 1));
						hello();
						continue;
					}
					expected_seq++;
					last_delivery = now_secs();
					if (!env.ParseFromArray(frames[1].data(), (int) frames[1].size()))
						throw Fatal("could not parse an Envelope from the relay");
					lsn = sub.process(env);
					if (lsn != 0 && lsn > acked)
					{
						pb::SubscriberMessage ack;

						ack.mutable_ack()->set_end_lsn(lsn);
						send(ack);
						acked = lsn;
					}
					if (!d.repeated_relation() && ++consumed >= std::max(1L, opt.credit / 2))
					{
						pb::SubscriberMessage credit;

						credit.mutable_credit()->set_messages(consumed);
						send(credit);
						consumed = 0;
					}
					break;
				}
			default:
				break;			/* heartbeats only show that the relay is alive */
		}
	}
}

/* Ephemeral mode */
static int
run_ephemeral(const Options &opt, Subscriber &sub)
{
	zmq::context_t ctx;
	zmq::socket_t sock(ctx, zmq::socket_type::sub);
	std::map<std::string, uint64_t> sequences;	/* topic: last sequence seen */
	std::optional<uint64_t> epoch;
	double		last_delivery = now_secs();

	sock.set(zmq::sockopt::linger, 0);
	if (opt.topics.empty())
		sock.set(zmq::sockopt::subscribe, "");
	for (const auto &t : opt.topics)
		sock.set(zmq::sockopt::subscribe, t);
	sock.connect(opt.publish);
	for (;;)
	{
		std::vector<zmq::message_t> frames;
		pb::Header	header;
		pb::Envelope env;
		zmq::pollitem_t item = {sock.handle(), 0, ZMQ_POLLIN, 0};

		if (opt.exit_after_idle >= 0 && now_secs() - last_delivery >= opt.exit_after_idle)
			return EXIT_OK;
		if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0)
			continue;
		do
		{
			zmq::message_t frame;

			(void) sock.recv(frame, zmq::recv_flags::none);
			frames.push_back(std::move(frame));
		} while (frames.back().more());
		if (frames.size() != 3)
		{
			log_line("warning", strprintf("ignored a message of %zu frames", frames.size()));
			continue;
		}
		if (!header.ParseFromArray(frames[1].data(), (int) frames[1].size()) ||
			!env.ParseFromArray(frames[2].data(), (int) frames[2].size()))
		{
			log_line("warning", "ignored a message that could not be parsed");
			continue;
		}
		std::string topic = frames[0].to_string();

		if (!epoch || header.epoch() != *epoch)
		{
			if (epoch)
				log_line("warning", "the relay restarted; sequences start again");
			epoch = header.epoch();
			sequences.clear();
		}
		auto		it = sequences.find(topic);

		if (it != sequences.end() && header.sequence() != it->second + 1)
			log_line("warning", strprintf("lost %lld messages on topic \"%s\" (sequence %llu after %llu)",
										  (long long) (header.sequence() - it->second - 1),
										  topic.c_str(),
										  (unsigned long long) header.sequence(),
										  (unsigned long long) it->second));
		sequences[topic] = header.sequence();
		last_delivery = now_secs();
		sub.process(env);
	}
}

int
main(int argc, char **argv)
{
	Options		opt = parse_options(argc, argv);

	GOOGLE_PROTOBUF_VERIFY_VERSION;
	/* a closed pipe is a write error we report, as Python does, not a kill */
	signal(SIGPIPE, SIG_IGN);
	try
	{
		Subscriber	sub(opt.state, opt.verbose);

		return opt.publish ? run_ephemeral(opt, sub) : run_durable(opt, sub);
	}
	catch (const Fatal &e)
	{
		log_line("error", e.message);
		if (!e.hint.empty())
			log_line("hint", e.hint);
		return e.code;
	}
	catch (const zmq::error_t &e)
	{
		log_line("error", strprintf("ZeroMQ failed: %s", e.what()));
		return EXIT_FAILURE_;
	}
}
