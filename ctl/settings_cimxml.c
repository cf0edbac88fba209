/* SPDX-License-Identifier: MIT */
/*
 * ReplicationSettingData as InitiateFailback's signature describes it: the
 * embedded-instance string of Msvm_ReplicationSettingData, CIM-XML (DSP0201)
 * as WMI's GetText writes it:
 *   <INSTANCE CLASSNAME="Msvm_ReplicationSettingData">
 *     <PROPERTY NAME="..." TYPE="..."><VALUE>...</VALUE></PROPERTY>
 *     <PROPERTY.ARRAY NAME="..." TYPE="..."><VALUE.ARRAY><VALUE>...</VALUE>
 *       </VALUE.ARRAY></PROPERTY.ARRAY>
 *   </INSTANCE>
 * read with libxml2 into the struct ctl_settings the JSON form fills.  The
 * rules, each documented in doc/settings.md:
 * - libxml2 touches no network, expands no entity and loads no DTD; a
 *   DOCTYPE is refused the moment the parser meets it, so neither "billion
 *   laughs" nor an external entity gets a chance;
 * - not well-formed, the root not INSTANCE, an element or a required
 *   attribute missing or misplaced, nesting deeper than CIMXML_MAX_DEPTH, a
 *   property twice, a TYPE other than the class declares, a value that is not
 *   of its type: 32776, the message with the line and column;
 * - CLASSNAME other than Msvm_ReplicationSettingData, a property neither of
 *   that class nor one of our Resync_ ones: 32773 naming it; a property of
 *   the class without a meaning here, and WMI's system properties ("__PATH"),
 *   are checked for type and ignored;
 * - names compare as CIM names do, without regard to case.
 * libxml2's errors reach a structured handler on the parser context: the
 * library prints nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include "resync/return_codes.h"
#include "settings_internal.h"

/* INSTANCE > PROPERTY.ARRAY > VALUE.ARRAY > VALUE is 4 deep, a QUALIFIER's
 * value as deep; anything much deeper is not a settings instance. */
#define CIMXML_MAX_DEPTH 16

#define CLASSNAME "Msvm_ReplicationSettingData"

/* What a property becomes here. */
enum target {
	T_IGNORED,
	T_DISKS,
	T_CHANGE_SOURCE,
	T_VERIFY,
	T_UINT,
	T_TLS_CERTIFICATES,
	T_TLS_PSK_FILE,
	T_TLS_USERNAME,
};

static const struct prop {
	const char *name;
	const char *type;
	bool array;
	enum target target;
	enum ctl_settings_uint uint;
} props[] = {
	/* The class's own properties (Hyper-V WMI v2 MOF, with the inherited
	 * ones): only IncludedDisks means something for a failback. */
	{ "IncludedDisks", "string", true, T_DISKS, 0 },
	{ "InstanceID", "string", false, T_IGNORED, 0 },
	{ "Caption", "string", false, T_IGNORED, 0 },
	{ "Description", "string", false, T_IGNORED, 0 },
	{ "ElementName", "string", false, T_IGNORED, 0 },
	{ "VirtualSystemIdentifier", "string", false, T_IGNORED, 0 },
	{ "VirtualSystemType", "string", false, T_IGNORED, 0 },
	{ "Notes", "string", true, T_IGNORED, 0 },
	{ "CreationTime", "datetime", false, T_IGNORED, 0 },
	{ "ConfigurationID", "string", false, T_IGNORED, 0 },
	{ "ConfigurationDataRoot", "string", false, T_IGNORED, 0 },
	{ "ConfigurationFile", "string", false, T_IGNORED, 0 },
	{ "SnapshotDataRoot", "string", false, T_IGNORED, 0 },
	{ "SuspendDataRoot", "string", false, T_IGNORED, 0 },
	{ "SwapFileDataRoot", "string", false, T_IGNORED, 0 },
	{ "LogDataRoot", "string", false, T_IGNORED, 0 },
	{ "AutomaticStartupAction", "uint16", false, T_IGNORED, 0 },
	{ "AutomaticStartupActionDelay", "datetime", false, T_IGNORED, 0 },
	{ "AutomaticStartupActionSequenceNumber", "uint16", false, T_IGNORED, 0 },
	{ "AutomaticShutdownAction", "uint16", false, T_IGNORED, 0 },
	{ "AutomaticRecoveryAction", "uint16", false, T_IGNORED, 0 },
	{ "RecoveryFile", "string", false, T_IGNORED, 0 },
	{ "AuthenticationType", "uint16", false, T_IGNORED, 0 },
	{ "CertificateThumbPrint", "string", false, T_IGNORED, 0 },
	{ "RootCertificateThumbPrint", "string", false, T_IGNORED, 0 },
	{ "CompressionEnabled", "boolean", false, T_IGNORED, 0 },
	{ "BypassProxyServer", "boolean", false, T_IGNORED, 0 },
	{ "RecoveryConnectionPoint", "string", false, T_IGNORED, 0 },
	{ "RecoveryHostSystem", "string", false, T_IGNORED, 0 },
	{ "PrimaryConnectionPoint", "string", false, T_IGNORED, 0 },
	{ "PrimaryHostSystem", "string", false, T_IGNORED, 0 },
	{ "RecoveryServerPortNumber", "uint16", false, T_IGNORED, 0 },
	{ "ReplicateHostKvpItems", "boolean", false, T_IGNORED, 0 },
	{ "ApplicationConsistentSnapshotInterval", "uint16", false, T_IGNORED, 0 },
	{ "RecoveryHistory", "uint16", false, T_IGNORED, 0 },
	{ "AutoResynchronizeEnabled", "boolean", false, T_IGNORED, 0 },
	{ "AutoResynchronizeIntervalStart", "datetime", false, T_IGNORED, 0 },
	{ "AutoResynchronizeIntervalEnd", "datetime", false, T_IGNORED, 0 },
	{ "EnableWriteOrderPreservationAcrossDisks", "boolean", false, T_IGNORED, 0 },
	{ "ReplicationProvider", "string", false, T_IGNORED, 0 },
	{ "AdditionalSettings", "string", false, T_IGNORED, 0 },
	{ "ReplicationInterval", "uint16", false, T_IGNORED, 0 },
	/* Ours: the JSON keys the class has no property for, "Resync_" and
	 * the key in CIM's capitalized words. */
	{ "Resync_ChangeSource", "string", false, T_CHANGE_SOURCE, 0 },
	{ "Resync_Verify", "boolean", false, T_VERIFY, 0 },
	{ "Resync_VerifySamplePerGiB", "uint32", false, T_UINT, CTL_SU_VERIFY_SAMPLE_PER_GIB },
	{ "Resync_VerifySampleMin", "uint32", false, T_UINT, CTL_SU_VERIFY_SAMPLE_MIN },
	{ "Resync_RateLimit", "uint64", false, T_UINT, CTL_SU_RATE_LIMIT },
	{ "Resync_QueueDepth", "uint32", false, T_UINT, CTL_SU_QUEUE_DEPTH },
	{ "Resync_RequestSize", "uint32", false, T_UINT, CTL_SU_REQUEST_SIZE },
	{ "Resync_NbdConnectTimeoutMs", "uint32", false, T_UINT, CTL_SU_NBD_CONNECT_TIMEOUT_MS },
	{ "Resync_MemoryLimit", "uint64", false, T_UINT, CTL_SU_MEMORY_LIMIT },
	{ "Resync_TlsCertificates", "string", false, T_TLS_CERTIFICATES, 0 },
	{ "Resync_TlsPskFile", "string", false, T_TLS_PSK_FILE, 0 },
	{ "Resync_TlsUsername", "string", false, T_TLS_USERNAME, 0 },
};

#define NPROPS (sizeof(props) / sizeof(props[0]))

/* libxml2's one-time setup is not safe to race; a daemon parses from
 * several threads. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* The parse: the text for positions, the first failure the SAX hooks met. */
struct cx {
	const char *text;
	size_t len;
	struct ctl_err *e;
	uint32_t rv;
	bool xml_failed; /* libxml2 reported an error: the first one's place and text */
	int xml_line, xml_col;
	char xml_msg[256];
};

/* Line and column (from 1, in characters, as libxml2 counts) of offset. */
static void position(const struct cx *c, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < c->len; i++) {
		unsigned char ch = (unsigned char)c->text[i];
		if (ch == '\n') {
			(*line)++;
			*col = 1;
		} else if ((ch & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

/* Where a node starts: the SAX hook stored its offset + 1. */
static size_t node_off(const xmlNode *n)
{
	return n->_private ? (size_t)((uintptr_t)n->_private - 1) : 0;
}

static uint32_t fail_at(struct cx *c, size_t off, uint32_t rv, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static uint32_t fail_at(struct cx *c, size_t off, uint32_t rv, const char *fmt, ...)
{
	char why[384];
	va_list ap;
	int line, col;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	position(c, off, &line, &col);
	return ctl_fail(c->e, rv, "settings: CIM-XML at line %d, column %d: %s", line, col, why);
}

/* A setter's failure, "settings: WHY", again with the place. */
static uint32_t place(struct cx *c, const xmlNode *n, uint32_t rv)
{
	char why[sizeof(c->e->msg)];
	const char *p = "settings: ";

	if (!rv || !c->e)
		return rv;
	snprintf(why, sizeof(why), "%s",
		 strncmp(c->e->msg, p, strlen(p)) ? c->e->msg : c->e->msg + strlen(p));
	return fail_at(c, node_off(n), rv, "%s", why);
}

/* The byte offset of the last "what" at or before the parser's position:
 * a start tag holds no '<' (attribute values may not), so the last '<'
 * before the parser is where the tag began. */
static size_t back_to(struct cx *c, xmlParserCtxtPtr ctxt, const char *what)
{
	long at = xmlByteConsumed(ctxt);
	size_t n = strlen(what), i;

	if (at < 0)
		return 0;
	i = (size_t)at < c->len ? (size_t)at : c->len;
	while (i > 0) {
		i--;
		if (i + n <= c->len && !memcmp(c->text + i, what, n))
			return i;
	}
	return 0;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
		     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
		     int nb_defaulted, const xmlChar **attributes)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct cx *c = ctxt->_private;
	size_t off = back_to(c, ctxt, "<");
	int depth = 0;

	xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
			      nb_defaulted, attributes);
	if (!ctxt->node)
		return;
	ctxt->node->_private = (void *)(uintptr_t)(off + 1);
	for (xmlNode *n = ctxt->node; n && n->type == XML_ELEMENT_NODE; n = n->parent)
		depth++;
	if (depth > CIMXML_MAX_DEPTH && !c->rv) {
		c->rv = fail_at(c, off, RESYNC_RV_INCORRECT_DATA_TYPE,
				"elements nested deeper than %d", CIMXML_MAX_DEPTH);
		xmlStopParser(ctxt);
	}
}

/* libxml2 calls this as it reads "<!DOCTYPE name ...", before any
 * declaration inside: stopping here leaves no entity declared. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
		       const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct cx *c = ctxt->_private;

	if (!c->rv)
		c->rv = fail_at(c, back_to(c, ctxt, "<!DOCTYPE"), RESYNC_RV_INCORRECT_DATA_TYPE,
				"a DOCTYPE is refused (no DTD, no entity declarations)");
	xmlStopParser(ctxt);
}

static void on_error(void *ctx, xmlErrorPtr err)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct cx *c = ctxt->_private;
	size_t n;

	if (err->level < XML_ERR_ERROR || c->xml_failed)
		return;
	c->xml_failed = true;
	c->xml_line = err->line;
	c->xml_col = err->int2;
	/* The first line: libxml2 may add the offending bytes on a second. */
	snprintf(c->xml_msg, sizeof(c->xml_msg), "%s", err->message ? err->message : "");
	n = strcspn(c->xml_msg, "\n");
	c->xml_msg[n] = '\0';
	while (n > 0 && isspace((unsigned char)c->xml_msg[n - 1]))
		c->xml_msg[--n] = '\0';
}

static bool named(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* An attribute's value, or NULL; the caller xmlFree()s it. */
static char *attr(const xmlNode *n, const char *name)
{
	return (char *)xmlGetNoNsProp(n, (const xmlChar *)name);
}

/* Only blanks between elements: text there is not CIM-XML. */
static uint32_t no_text(struct cx *c, const xmlNode *parent)
{
	for (const xmlNode *n = parent->children; n; n = n->next) {
		if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
		    !xmlIsBlankNode(n))
			return fail_at(c, node_off(parent), RESYNC_RV_INCORRECT_DATA_TYPE,
				       "text inside <%s>", (const char *)parent->name);
	}
	return 0;
}

/* A VALUE's text; NULL (and c->rv set) when it holds an element. */
static char *value_text(struct cx *c, const xmlNode *v)
{
	char *t;

	for (const xmlNode *n = v->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE) {
			c->rv = fail_at(c, node_off(n), RESYNC_RV_INCORRECT_DATA_TYPE,
					"<%s> inside <VALUE>", (const char *)n->name);
			return NULL;
		}
	t = (char *)xmlNodeGetContent(v);
	if (!t)
		c->rv = ctl_fail(c->e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
	return t;
}

/* CIM's integer types: decimal, blanks around allowed (pretty-printers). */
static bool parse_int(const char *s, const char *type, uint64_t *out)
{
	bool neg = false, sign = type[0] == 's';
	unsigned bits = (unsigned)atoi(type + 4);
	uint64_t v = 0, max;

	s += strspn(s, " \t\r\n");
	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s[strspn(s, " \t\r\n")])
		return false;
	max = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
	if (sign)
		max = neg ? max / 2 + 1 : max / 2;
	else if (neg && v)
		return false;
	if (v > max)
		return false;
	*out = neg ? 0 : v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	size_t lead = strspn(s, " \t\r\n"), n;

	s += lead;
	for (n = 0; s[n] && !isspace((unsigned char)s[n]); n++)
		;
	if (s[n + strspn(s + n, " \t\r\n")])
		return false;
	if (n == 4 && !strncasecmp(s, "true", 4))
		*out = true;
	else if (n == 5 && !strncasecmp(s, "false", 5))
		*out = false;
	else
		return false;
	return true;
}

/* DSP0004 datetime: "yyyymmddhhmmss.mmmmmmsutc" or the interval
 * "ddddddddhhmmss.mmmmmm:000"; '*' may stand for digits. */
static bool is_datetime(const char *s)
{
	if (strlen(s) != 25 || s[14] != '.' || !strchr("+-:", s[21]))
		return false;
	for (int i = 0; i < 25; i++)
		if (i != 14 && i != 21 && !isdigit((unsigned char)s[i]) && s[i] != '*')
			return false;
	return true;
}

/* Whether text is a value of the CIM type. */
static bool of_type(const char *text, const char *type)
{
	uint64_t n;
	bool b;
	char *end;

	if (!strcmp(type, "string"))
		return true;
	if (!strcmp(type, "boolean"))
		return parse_bool(text, &b);
	if (!strcmp(type, "datetime"))
		return is_datetime(text);
	if (!strncmp(type, "uint", 4) || !strncmp(type, "sint", 4))
		return parse_int(text, type, &n);
	if (!strncmp(type, "real", 4)) {
		errno = 0;
		strtod(text, &end);
		return end != text && !errno && !end[strspn(end, " \t\r\n")];
	}
	return true;
}

static uint32_t apply(struct cx *c, const struct prop *p, const xmlNode *v, const char *text,
		      struct ctl_settings *s)
{
	uint64_t n = 0;
	bool b = false;

	switch (p->target) {
	case T_IGNORED:
		return 0;
	case T_DISKS:
		return place(c, v, ctl_settings_add_disk(s, text, c->e));
	case T_CHANGE_SOURCE:
		return place(c, v, ctl_settings_set_change_source(s, p->name, text, c->e));
	case T_VERIFY:
		parse_bool(text, &b);
		s->verify = b;
		return 0;
	case T_UINT:
		parse_int(text, p->type, &n);
		return place(c, v, ctl_settings_set_uint(s, p->uint, p->name, n, c->e));
	case T_TLS_CERTIFICATES:
		return place(c, v, ctl_settings_set_string(&s->tls_certificates, text, c->e));
	case T_TLS_PSK_FILE:
		return place(c, v, ctl_settings_set_string(&s->tls_psk_file, text, c->e));
	case T_TLS_USERNAME:
		return place(c, v, ctl_settings_set_string(&s->tls_username, text, c->e));
	}
	return 0;
}

/* One VALUE of property p (element of an array when idx >= 0). */
static uint32_t one_value(struct cx *c, const struct prop *p, const char *pname, const char *type,
			  const xmlNode *v, long idx, struct ctl_settings *s)
{
	char *text = value_text(c, v);
	uint32_t rv;

	if (!text)
		return c->rv;
	if (!of_type(text, type)) {
		char at[32] = "";
		if (idx >= 0)
			snprintf(at, sizeof(at), "[%ld]", idx);
		rv = fail_at(c, node_off(v), RESYNC_RV_INCORRECT_DATA_TYPE,
			     "\"%s%s\" value \"%.64s\" is not a %s", pname, at, text, type);
	} else {
		rv = p ? apply(c, p, v, text, s) : 0;
	}
	xmlFree(text);
	return rv;
}

/* The children of PROPERTY (QUALIFIER*, VALUE?) or PROPERTY.ARRAY
 * (QUALIFIER*, VALUE.ARRAY?); no value is NULL, which leaves the default.
 * p is NULL for a WMI system property, which is only checked. */
static uint32_t property_value(struct cx *c, const xmlNode *el, const struct prop *p,
			       const char *pname, const char *type, struct ctl_settings *s)
{
	const char *want = named(el, "PROPERTY") ? "VALUE" : "VALUE.ARRAY";
	const xmlNode *val = NULL;
	uint32_t rv = no_text(c, el);
	long i = 0;

	for (const xmlNode *n = el->children; n && !rv; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || named(n, "QUALIFIER"))
			continue;
		if (!named(n, want) || val)
			return fail_at(c, node_off(n), RESYNC_RV_INCORRECT_DATA_TYPE,
				       "<%s> inside <%s> \"%s\" (one <%s> expected)",
				       (const char *)n->name, (const char *)el->name, pname, want);
		val = n;
	}
	if (rv || !val)
		return rv;
	if (!strcmp(want, "VALUE"))
		return one_value(c, p, pname, type, val, -1, s);
	rv = no_text(c, val);
	for (const xmlNode *n = val->children; n && !rv; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (named(n, "VALUE")) {
			rv = one_value(c, p, pname, type, n, i, s);
		} else if (named(n, "VALUE.NULL")) {
			if (p && p->target != T_IGNORED)
				rv = fail_at(c, node_off(n), RESYNC_RV_INCORRECT_DATA_TYPE,
					     "\"%s[%ld]\" is NULL", pname, i);
		} else {
			rv = fail_at(c, node_off(n), RESYNC_RV_INCORRECT_DATA_TYPE,
				     "<%s> inside <VALUE.ARRAY> (VALUE or VALUE.NULL expected)",
				     (const char *)n->name);
		}
		i++;
	}
	if (!rv && i == 0 && p && p->target == T_DISKS)
		rv = fail_at(c, node_off(val), RESYNC_RV_INVALID_PARAMETER, "\"%s\" is empty",
			     pname);
	return rv;
}

static uint32_t property(struct cx *c, const xmlNode *el, bool seen[NPROPS], struct ctl_settings *s)
{
	bool array = named(el, "PROPERTY.ARRAY");
	char *name = attr(el, "NAME"), *type = attr(el, "TYPE");
	const struct prop *p = NULL;
	uint32_t rv = 0;

	if (!name || !*name) {
		rv = fail_at(c, node_off(el), RESYNC_RV_INCORRECT_DATA_TYPE, "<%s> without NAME",
			     (const char *)el->name);
		goto out;
	}
	if (!type || !*type) {
		rv = fail_at(c, node_off(el), RESYNC_RV_INCORRECT_DATA_TYPE,
			     "<%s> \"%s\" without TYPE", (const char *)el->name, name);
		goto out;
	}
	for (char *t = type; *t; t++)
		*t = (char)tolower((unsigned char)*t);
	/* WMI's system properties (__PATH, __CLASS, ...): what GetText adds
	 * about the object, not settings. */
	if (!strncmp(name, "__", 2)) {
		rv = property_value(c, el, NULL, name, type, s);
		goto out;
	}
	for (size_t i = 0; i < NPROPS; i++)
		if (!strcasecmp(name, props[i].name)) {
			p = &props[i];
			if (seen[i]) {
				rv = fail_at(c, node_off(el), RESYNC_RV_INCORRECT_DATA_TYPE,
					     "property \"%s\" given twice", p->name);
				goto out;
			}
			seen[i] = true;
			break;
		}
	if (!p) {
		rv = fail_at(c, node_off(el), RESYNC_RV_INVALID_PARAMETER,
			     "unknown property \"%s\" (not of " CLASSNAME
			     " nor a Resync_ property of doc/settings.md)",
			     name);
		goto out;
	}
	if (p->array != array) {
		rv = fail_at(c, node_off(el), RESYNC_RV_INCORRECT_DATA_TYPE,
			     "\"%s\" is %s: <%s> expected", p->name,
			     p->array ? "an array" : "not an array",
			     p->array ? "PROPERTY.ARRAY" : "PROPERTY");
		goto out;
	}
	if (strcmp(type, p->type)) {
		rv = fail_at(c, node_off(el), RESYNC_RV_INCORRECT_DATA_TYPE,
			     "\"%s\" is a %s%s, not TYPE \"%s\"", p->name, p->type,
			     p->array ? " array" : "", type);
		goto out;
	}
	rv = property_value(c, el, p, p->name, type, s);
out:
	xmlFree(name);
	xmlFree(type);
	return rv;
}

static uint32_t instance(struct cx *c, const xmlNode *root, struct ctl_settings *s)
{
	bool seen[NPROPS] = { false };
	char *cls;
	uint32_t rv;

	if (!root)
		return ctl_fail(c->e, RESYNC_RV_INCORRECT_DATA_TYPE,
				"settings: no CIM-XML element");
	if (!named(root, "INSTANCE") || root->ns)
		return fail_at(c, node_off(root), RESYNC_RV_INCORRECT_DATA_TYPE,
			       "the root element is <%s>, not <INSTANCE>",
			       (const char *)root->name);
	cls = attr(root, "CLASSNAME");
	if (!cls)
		return fail_at(c, node_off(root), RESYNC_RV_INCORRECT_DATA_TYPE,
			       "<INSTANCE> without CLASSNAME");
	if (strcasecmp(cls, CLASSNAME)) {
		rv = fail_at(c, node_off(root), RESYNC_RV_INVALID_PARAMETER,
			     "CLASSNAME \"%s\" is not " CLASSNAME, cls);
		xmlFree(cls);
		return rv;
	}
	xmlFree(cls);
	rv = no_text(c, root);
	for (const xmlNode *n = root->children; n && !rv; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || named(n, "QUALIFIER"))
			continue;
		if (named(n, "PROPERTY") || named(n, "PROPERTY.ARRAY"))
			rv = property(c, n, seen, s);
		else
			rv = fail_at(c, node_off(n), RESYNC_RV_INCORRECT_DATA_TYPE,
				     "<%s> inside <INSTANCE> (PROPERTY or PROPERTY.ARRAY expected)",
				     (const char *)n->name);
	}
	if (!rv && s->tls_certificates && s->tls_psk_file)
		rv = fail_at(
			c, node_off(root), RESYNC_RV_INVALID_PARAMETER,
			"\"Resync_TlsCertificates\" and \"Resync_TlsPskFile\" exclude each other");
	return rv;
}

uint32_t ctl_settings_parse_cimxml(const char *text, size_t len, struct ctl_settings *s,
				   struct ctl_err *e)
{
	struct cx c = { .text = text, .len = len, .e = e };
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	uint32_t rv;

	pthread_once(&xml_once, xmlInitParser);
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return ctl_fail(e, RESYNC_RV_OUT_OF_MEMORY, "out of memory");
	ctxt->_private = &c;
	ctxt->sax->serror = on_error;
	ctxt->sax->startElementNs = on_start;
	ctxt->sax->internalSubset = on_doctype;
	/* No NOENT, DTDLOAD, DTDATTR, XINCLUDE or HUGE: entities stay
	 * unexpanded and libxml2's own limits hold.  The text is ours and
	 * UTF-8 whatever its declaration says. */
	doc = xmlCtxtReadMemory(ctxt, text, (int)len, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_IGNORE_ENC);
	if (c.rv) {
		rv = c.rv;
	} else if (c.xml_failed || !doc) {
		if (!c.xml_failed)
			rv = ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
				      "settings: not well-formed CIM-XML");
		else
			rv = ctl_fail(e, RESYNC_RV_INCORRECT_DATA_TYPE,
				      "settings: not well-formed CIM-XML at line %d, column %d: %s",
				      c.xml_line, c.xml_col, c.xml_msg);
	} else {
		rv = instance(&c, xmlDocGetRootElement(doc), s);
	}
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return rv;
}
