// SPDX-License-Identifier: MIT
// ReplicationSettingData as CIM-XML (the embedded instance of
// Msvm_ReplicationSettingData) through the one settings entry point: every
// mapped property, arrays, the unknown-property rule, TYPE checks, malformed
// documents with their exact line and column, DOCTYPE/entity refusal, the
// size and depth bounds, and the JSON form giving the same settings.
#include <gtest/gtest.h>
#include <string>
#include <vector>
extern "C" {
#include "resync/return_codes.h"
#include "settings.h"
}

namespace {

const std::string kOpen = R"(<INSTANCE CLASSNAME="Msvm_ReplicationSettingData">)";
const std::string kClose = "</INSTANCE>";

std::string prop(const std::string &name, const std::string &type, const std::string &value)
{
	return "<PROPERTY NAME=\"" + name + "\" TYPE=\"" + type + "\"><VALUE>" + value +
	       "</VALUE></PROPERTY>";
}

std::string prop_array(const std::string &name, const std::string &type,
		       const std::vector<std::string> &values)
{
	std::string s = "<PROPERTY.ARRAY NAME=\"" + name + "\" TYPE=\"" + type + "\"><VALUE.ARRAY>";
	for (const std::string &v : values)
		s += "<VALUE>" + v + "</VALUE>";
	return s + "</VALUE.ARRAY></PROPERTY.ARRAY>";
}

std::string instance(const std::string &props)
{
	return kOpen + props + kClose;
}

struct Parsed {
	uint32_t rv;
	std::string msg;
	std::string json; // the normalized settings when rv == 0
};

Parsed parse(const std::string &text)
{
	struct ctl_settings s;
	struct ctl_err e = { "" };
	Parsed p;
	p.rv = ctl_settings_parse(text.c_str(), &s, &e);
	p.msg = e.msg;
	if (p.rv == 0) {
		json_object *o = ctl_settings_to_json(&s);
		p.json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		json_object_put(o);
	}
	ctl_settings_free(&s);
	return p;
}

std::string normalized(const std::string &json)
{
	Parsed p = parse(json);
	EXPECT_EQ(p.rv, 0u) << p.msg;
	return p.json;
}

} // namespace

TEST(SettingsCimXml, EmptyInstanceIsAllDefaults)
{
	Parsed p = parse(instance(""));
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json, normalized("{}"));
	// Self-closing, an XML declaration, blanks and a comment around.
	p = parse("\n  <?xml version=\"1.0\" encoding=\"utf-16\"?>"
		  "<INSTANCE CLASSNAME=\"Msvm_ReplicationSettingData\"/>");
	EXPECT_EQ(p.rv, 32776u) << "a declaration after blanks is not XML";
	p = parse("<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<!-- c -->\n"
		  "<INSTANCE CLASSNAME=\"Msvm_ReplicationSettingData\"/>\n");
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json, normalized("{}"));
}

TEST(SettingsCimXml, EveryMappedPropertyEqualsItsJsonKey)
{
	Parsed p = parse(instance(prop_array("IncludedDisks", "string", { "sys", "data" }) +
				  prop("Resync_ChangeSource", "string", "compare") +
				  prop("Resync_Verify", "boolean", "TRUE") +
				  prop("Resync_VerifySamplePerGiB", "uint32", "32") +
				  prop("Resync_VerifySampleMin", "uint32", "7") +
				  prop("Resync_RateLimit", "uint64", "104857600") +
				  prop("Resync_QueueDepth", "uint32", "8") +
				  prop("Resync_RequestSize", "uint32", "65536") +
				  prop("Resync_TlsPskFile", "string", "/etc/resync/psk") +
				  prop("Resync_TlsUsername", "string", "resync") +
				  prop("Resync_NbdConnectTimeoutMs", "uint32", "2500") +
				  prop("Resync_MemoryLimit", "uint64", "67108864")));
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json,
		  normalized(R"({"disks":["sys","data"],"change_source":"compare","verify":true,)"
			     R"("verify_sample_per_gib":32,"verify_sample_min":7,)"
			     R"("rate_limit":104857600,"queue_depth":8,"request_size":65536,)"
			     R"("tls":{"psk_file":"/etc/resync/psk","username":"resync"},)"
			     R"("nbd_connect_timeout_ms":2500,"memory_limit":67108864})"));
	p = parse(instance(prop("Resync_TlsCertificates", "string", "/etc/pki/resync") +
			   prop("Resync_Verify", "boolean", " false ")));
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json,
		  normalized(R"({"tls":{"certificates":"/etc/pki/resync"},"verify":false})"));
}

TEST(SettingsCimXml, NamesAreCaseInsensitiveValuesAreNot)
{
	Parsed p = parse(R"(<INSTANCE CLASSNAME="msvm_replicationsettingdata">)" +
			 prop("resync_queuedepth", "UINT32", "4") +
			 prop_array("includeddisks", "String", { "Sys" }) + kClose);
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json, normalized(R"({"queue_depth":4,"disks":["Sys"]})"));
	p = parse(instance(prop("Resync_ChangeSource", "string", "Compare")));
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 102: \"Resync_ChangeSource\" must "
			 "be auto, bitmap, nbd-dirty, extents, compare or full");
}

TEST(SettingsCimXml, WmiStyleInstanceWithQualifiersAndSystemProperties)
{
	// The shape GetText(WMI_OBJ_TEXT_CIM_DTD_2_0) gives: system
	// properties, CLASSORIGIN/PROPAGATED, qualifiers, NULL properties,
	// and every class property with no meaning here (ignored).
	std::string q = R"(<QUALIFIER NAME="CIMTYPE" PROPAGATED="true" TYPE="string" )"
			R"(TOINSTANCE="true"><VALUE>string</VALUE></QUALIFIER>)";
	std::string xml =
		R"(<INSTANCE CLASSNAME="Msvm_ReplicationSettingData">)"
		R"(<QUALIFIER NAME="dynamic" PROPAGATED="true" TYPE="boolean" TOINSTANCE="true">)"
		R"(<VALUE>TRUE</VALUE></QUALIFIER>)"
		R"(<PROPERTY NAME="__PATH" CLASSORIGIN="___SYSTEM" TYPE="string"><VALUE>)"
		R"(\\HV1\root\virtualization\v2:Msvm_ReplicationSettingData.InstanceID="x"</VALUE>)"
		R"(</PROPERTY>)"
		R"(<PROPERTY.ARRAY NAME="__DERIVATION" CLASSORIGIN="___SYSTEM" TYPE="string">)"
		R"(<VALUE.ARRAY><VALUE>CIM_VirtualSystemSettingData</VALUE><VALUE>CIM_SettingData)"
		R"(</VALUE></VALUE.ARRAY></PROPERTY.ARRAY>)"
		R"(<PROPERTY NAME="__GENUS" CLASSORIGIN="___SYSTEM" TYPE="sint32"><VALUE>2</VALUE>)"
		R"(</PROPERTY>)" +
		std::string("<PROPERTY NAME=\"InstanceID\" CLASSORIGIN=\"CIM_SettingData\" "
			    "TYPE=\"string\">") +
		q +
		R"(<VALUE>Microsoft:5F1B2C7A-0000-4000-8000-000000000001\HVR\0</VALUE></PROPERTY>)" +
		prop("Caption", "string", "Replication Settings") +
		prop("Description", "string", "Virtual Machine Replication Settings Data") +
		prop("ElementName", "string", "web") +
		prop("VirtualSystemIdentifier", "string", "5F1B2C7A") +
		prop("VirtualSystemType", "string", "Microsoft:Hyper-V:Replica") +
		prop_array("Notes", "string", { "a", "b" }) +
		prop("CreationTime", "datetime", "20261125120000.000000+000") +
		R"(<PROPERTY NAME="ConfigurationID" TYPE="string"></PROPERTY>)" +
		prop("ConfigurationDataRoot", "string", "C:\\VMs") +
		prop("ConfigurationFile", "string", "x.vmcx") +
		prop("SnapshotDataRoot", "string", "C:\\s") +
		prop("SuspendDataRoot", "string", "C:\\s") +
		prop("SwapFileDataRoot", "string", "C:\\s") +
		prop("LogDataRoot", "string", "C:\\l") +
		prop("AutomaticStartupAction", "uint16", "2") +
		prop("AutomaticStartupActionDelay", "datetime", "00000000000000.000000:000") +
		prop("AutomaticStartupActionSequenceNumber", "uint16", "0") +
		prop("AutomaticShutdownAction", "uint16", "4") +
		prop("AutomaticRecoveryAction", "uint16", "3") +
		prop("RecoveryFile", "string", "") + prop("AuthenticationType", "uint16", "2") +
		prop("CertificateThumbPrint", "string",
		     "0123456789ABCDEF0123456789ABCDEF01234567") +
		prop("RootCertificateThumbPrint", "string", "") +
		prop("CompressionEnabled", "boolean", "TRUE") +
		prop("BypassProxyServer", "boolean", "FALSE") +
		prop("RecoveryConnectionPoint", "string", "replica.example") +
		prop("RecoveryHostSystem", "string", "replica") +
		prop("PrimaryConnectionPoint", "string", "primary.example") +
		prop("PrimaryHostSystem", "string", "primary") +
		prop("RecoveryServerPortNumber", "uint16", "443") +
		prop("ReplicateHostKvpItems", "boolean", "TRUE") +
		prop("ApplicationConsistentSnapshotInterval", "uint16", "4") +
		prop("RecoveryHistory", "uint16", "24") +
		prop("AutoResynchronizeEnabled", "boolean", "FALSE") +
		prop("AutoResynchronizeIntervalStart", "datetime", "00000000183000.000000:000") +
		prop("AutoResynchronizeIntervalEnd", "datetime", "00000000060000.000000:000") +
		prop("EnableWriteOrderPreservationAcrossDisks", "boolean", "TRUE") +
		prop("ReplicationProvider", "string", "") +
		prop("AdditionalSettings", "string", "") +
		prop("ReplicationInterval", "uint16", "300") +
		"<PROPERTY.ARRAY NAME=\"IncludedDisks\" TYPE=\"string\">" + q +
		"<VALUE.ARRAY>\n  <VALUE>d0</VALUE>\n</VALUE.ARRAY></PROPERTY.ARRAY>" + kClose;
	Parsed p = parse(xml);
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json, normalized(R"({"disks":["d0"]})"));
}

TEST(SettingsCimXml, NullValuesLeaveTheDefaults)
{
	Parsed p = parse(instance(R"(<PROPERTY NAME="Resync_QueueDepth" TYPE="uint32"/>)"
				  R"(<PROPERTY.ARRAY NAME="IncludedDisks" TYPE="string"/>)"));
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json, normalized("{}"));
}

// Without Resync_QueueDepth and Resync_RequestSize (or with NULL values)
// the engine chooses both per disk: 0 in the settings, absent from what is
// stored; one given is kept exactly, the other still the engine's.
TEST(SettingsCimXml, AbsentDepthAndSizeAreTheEngines)
{
	struct ctl_settings s;
	for (const std::string &props :
	     { std::string(), prop("Resync_ChangeSource", "string", "full"),
	       std::string(R"(<PROPERTY NAME="Resync_QueueDepth" TYPE="uint32"/>)"
			   R"(<PROPERTY NAME="Resync_RequestSize" TYPE="uint32"/>)") }) {
		ASSERT_EQ(ctl_settings_parse(instance(props).c_str(), &s, nullptr), 0u) << props;
		EXPECT_EQ(s.queue_depth, 0u) << props;
		EXPECT_EQ(s.request_size, 0u) << props;
		ctl_settings_free(&s);
		Parsed p = parse(instance(props));
		EXPECT_EQ(p.json.find("queue_depth"), std::string::npos) << p.json;
		EXPECT_EQ(p.json.find("request_size"), std::string::npos) << p.json;
	}
	ASSERT_EQ(ctl_settings_parse(instance(prop("Resync_RequestSize", "uint32", "131072"))
					     .c_str(),
				     &s, nullptr),
		  0u);
	EXPECT_EQ(s.queue_depth, 0u);
	EXPECT_EQ(s.request_size, 131072u);
	ctl_settings_free(&s);
	ASSERT_EQ(ctl_settings_parse(instance(prop("Resync_QueueDepth", "uint32", "2")).c_str(), &s,
				     nullptr),
		  0u);
	EXPECT_EQ(s.queue_depth, 2u);
	EXPECT_EQ(s.request_size, 0u);
	ctl_settings_free(&s);
}

TEST(SettingsCimXml, ArraysAreCheckedElementByElement)
{
	Parsed p = parse(instance(prop_array("IncludedDisks", "string", {})));
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 102: \"IncludedDisks\" is empty");
	p = parse(instance(prop_array("IncludedDisks", "string", { "a", "a" })));
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 131: disk \"a\" listed twice");
	p = parse(instance(R"(<PROPERTY.ARRAY NAME="IncludedDisks" TYPE="string"><VALUE.ARRAY>)"
			   R"(<VALUE>a</VALUE><VALUE.NULL/></VALUE.ARRAY></PROPERTY.ARRAY>)"));
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 131: \"IncludedDisks[1]\" is NULL");
	// A NULL element of an ignored array is fine.
	p = parse(instance(R"(<PROPERTY.ARRAY NAME="Notes" TYPE="string"><VALUE.ARRAY>)"
			   R"(<VALUE.NULL/></VALUE.ARRAY></PROPERTY.ARRAY>)"));
	EXPECT_EQ(p.rv, 0u) << p.msg;
	// An array given as a scalar and the other way round.
	p = parse(instance(prop("IncludedDisks", "string", "a")));
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 51: \"IncludedDisks\" is an array: "
			 "<PROPERTY.ARRAY> expected");
	p = parse(instance(prop_array("Resync_ChangeSource", "string", { "full" })));
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 51: \"Resync_ChangeSource\" is not "
			 "an array: <PROPERTY> expected");
	// A VALUE where VALUE.ARRAY belongs.
	p = parse(instance(R"(<PROPERTY.ARRAY NAME="IncludedDisks" TYPE="string">)"
			   R"(<VALUE>a</VALUE></PROPERTY.ARRAY>)"));
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 102: <VALUE> inside "
			 "<PROPERTY.ARRAY> \"IncludedDisks\" (one <VALUE.ARRAY> expected)");
}

TEST(SettingsCimXml, UnknownPropertyOrClassIsRefused32773)
{
	Parsed p = parse(instance(prop("Resync_Bogus", "string", "x")));
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 51: unknown property "
			 "\"Resync_Bogus\" (not of Msvm_ReplicationSettingData nor a Resync_ "
			 "property of doc/settings.md)");
	// Columns count characters, as libxml2's do: "é" is one.
	p = parse(instance("<!--\u00e9\u00e9-->" + prop("Resync_Bogus", "string", "x")));
	EXPECT_EQ(p.msg.rfind("settings: CIM-XML at line 1, column 60: unknown property", 0), 0u)
		<< p.msg;
	p = parse(instance("<!--\u00e9\u00e9--><PROPERTY>"));
	EXPECT_EQ(p.msg.rfind("settings: not well-formed CIM-XML at line 1, column 81:", 0), 0u)
		<< p.msg;
	p = parse(instance(prop("queue_depth", "uint32", "4")));
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_NE(p.msg.find("unknown property \"queue_depth\""), std::string::npos) << p.msg;
	p = parse(R"(<INSTANCE CLASSNAME="Msvm_VirtualSystemSettingData"/>)");
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 1: CLASSNAME "
			 "\"Msvm_VirtualSystemSettingData\" is not Msvm_ReplicationSettingData");
	// The same property twice is a malformed instance.
	p = parse(instance(prop("Resync_QueueDepth", "uint32", "4") +
			   prop("RESYNC_QUEUEDEPTH", "uint32", "8")));
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 127: property "
			 "\"Resync_QueueDepth\" given twice");
}

TEST(SettingsCimXml, TypesFollowTheClass32776)
{
	struct Case {
		std::string props;
		std::string msg;
	} cases[] = {
		{ prop("Resync_QueueDepth", "string", "4"),
		  "\"Resync_QueueDepth\" is a uint32, not TYPE \"string\"" },
		{ prop("CompressionEnabled", "uint16", "1"),
		  "\"CompressionEnabled\" is a boolean, not TYPE \"uint16\"" },
		{ prop_array("IncludedDisks", "uint16", { "1" }),
		  "\"IncludedDisks\" is a string array, not TYPE \"uint16\"" },
		{ prop("Resync_Verify", "boolean", "yes"),
		  "\"Resync_Verify\" value \"yes\" is not a boolean" },
		{ prop("Resync_QueueDepth", "uint32", "four"),
		  "\"Resync_QueueDepth\" value \"four\" is not a uint32" },
		{ prop("Resync_QueueDepth", "uint32", "-1"),
		  "\"Resync_QueueDepth\" value \"-1\" is not a uint32" },
		{ prop("Resync_QueueDepth", "uint32", "4294967296"),
		  "\"Resync_QueueDepth\" value \"4294967296\" is not a uint32" },
		{ prop("Resync_RateLimit", "uint64", "18446744073709551616"),
		  "\"Resync_RateLimit\" value \"18446744073709551616\" is not a uint64" },
		// Ignored properties are still of their type.
		{ prop("RecoveryHistory", "uint16", "65536"),
		  "\"RecoveryHistory\" value \"65536\" is not a uint16" },
		{ prop("CreationTime", "datetime", "yesterday"),
		  "\"CreationTime\" value \"yesterday\" is not a datetime" },
		// So are WMI's system properties, of the TYPE they state.
		{ prop("__GENUS", "sint32", "x"), "\"__GENUS\" value \"x\" is not a sint32" },
	};
	for (const Case &c : cases) {
		Parsed p = parse(instance(c.props));
		EXPECT_EQ(p.rv, 32776u) << c.props;
		EXPECT_EQ(p.msg.rfind("settings: CIM-XML at line 1, column ", 0), 0u) << p.msg;
		EXPECT_NE(p.msg.find(c.msg), std::string::npos) << p.msg;
	}
	// Values in range for the type but not for the setting: 32773, as JSON.
	Parsed p = parse(instance(prop("Resync_RequestSize", "uint32", "65537")));
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 101: \"Resync_RequestSize\" must be "
			 "a power of two");
	p = parse(instance(prop("Resync_TlsCertificates", "string", "/c") +
			   prop("Resync_TlsPskFile", "string", "/k")));
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 1: \"Resync_TlsCertificates\" and "
			 "\"Resync_TlsPskFile\" exclude each other");
}

TEST(SettingsCimXml, MalformedDocumentsSayLineAndColumn32776)
{
	struct Case {
		std::string text, msg;
	} cases[] = {
		{ kOpen + "\n  <PROPERTY NAME=\"Resync_Verify\" TYPE=\"boolean\"><VALUE>TRUE</VALUE>\n" +
			  kClose,
		  "settings: not well-formed CIM-XML at line 3, column 12: Opening and ending tag "
		  "mismatch: PROPERTY line 2 and INSTANCE" },
		{ "<INSTANCE CLASSNAME=\"Msvm_ReplicationSettingData\">\n<PROPERTY NAME=x/>",
		  "settings: not well-formed CIM-XML at line 2, column 16: AttValue: \" or ' "
		  "expected" },
		{ kOpen, "settings: not well-formed CIM-XML at line 1, column 51: Premature end of "
			 "data in tag INSTANCE line 1" },
		{ kOpen + kClose + "<INSTANCE/>",
		  "settings: not well-formed CIM-XML at line 1, column 62: Extra content at the "
		  "end of the document" },
		{ kOpen + "<PROPERTY NAME=\"A\" TYPE=\"string\"><VALUE>\xff</VALUE></PROPERTY>" +
			  kClose,
		  "settings: not well-formed CIM-XML at line 1, column 91: Input is not proper "
		  "UTF-8, indicate encoding !" },
		{ "<VALUE>1</VALUE>",
		  "settings: CIM-XML at line 1, column 1: the root element is <VALUE>, not "
		  "<INSTANCE>" },
		{ "\n\n   <INSTANCE/>",
		  "settings: CIM-XML at line 3, column 4: <INSTANCE> without CLASSNAME" },
		{ kOpen + "\n\t<PROPERTY TYPE=\"string\"/>" + kClose,
		  "settings: CIM-XML at line 2, column 2: <PROPERTY> without NAME" },
		{ kOpen + "<PROPERTY NAME=\"Resync_Verify\"/>" + kClose,
		  "settings: CIM-XML at line 1, column 51: <PROPERTY> \"Resync_Verify\" without "
		  "TYPE" },
		{ kOpen + "<PROPERTY.REFERENCE NAME=\"Resync_Verify\"/>" + kClose,
		  "settings: CIM-XML at line 1, column 51: <PROPERTY.REFERENCE> inside <INSTANCE> "
		  "(PROPERTY or PROPERTY.ARRAY expected)" },
		{ kOpen + "text" + kClose,
		  "settings: CIM-XML at line 1, column 1: text inside <INSTANCE>" },
		{ kOpen +
			  "<PROPERTY NAME=\"Resync_Verify\" TYPE=\"boolean\"><VALUE><b/></VALUE>"
			  "</PROPERTY>" +
			  kClose,
		  "settings: CIM-XML at line 1, column 104: <b> inside <VALUE>" },
		{ R"(<x:INSTANCE xmlns:x="urn:x" CLASSNAME="Msvm_ReplicationSettingData"/>)",
		  "settings: CIM-XML at line 1, column 1: the root element is <INSTANCE>, not "
		  "<INSTANCE>" },
	};
	for (const Case &c : cases) {
		Parsed p = parse(c.text);
		EXPECT_EQ(p.rv, 32776u) << c.text;
		EXPECT_EQ(p.msg, c.msg) << c.text;
	}
}

TEST(SettingsCimXml, DoctypeAndEntitiesAreRefused)
{
	// Billion laughs: refused at the DOCTYPE, before any entity exists.
	std::string lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE INSTANCE [\n"
			  " <!ENTITY l0 \"lol\">\n";
	for (int i = 1; i < 10; i++) {
		std::string prev = "&l" + std::to_string(i - 1) + ";";
		std::string ten;
		for (int j = 0; j < 10; j++)
			ten += prev;
		lol += " <!ENTITY l" + std::to_string(i) + " \"" + ten + "\">\n";
	}
	lol += "]>\n" + kOpen + prop("Resync_TlsUsername", "string", "&l9;") + kClose;
	Parsed p = parse(lol);
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 2, column 1: a DOCTYPE is refused (no DTD, "
			 "no entity declarations)");
	// XXE: an external entity naming a local file and a URL.
	for (const char *sys : { "file:///etc/passwd", "http://127.0.0.1:9/x.dtd" }) {
		std::string xxe = std::string("<!DOCTYPE INSTANCE [<!ENTITY x SYSTEM \"") + sys +
				  "\">]>" + kOpen + prop("Resync_TlsUsername", "string", "&x;") +
				  kClose;
		p = parse(xxe);
		EXPECT_EQ(p.rv, 32776u) << sys;
		EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 1: a DOCTYPE is refused "
				 "(no DTD, no entity declarations)");
	}
	// An external DTD alone, and a DOCTYPE after a comment on line 1.
	p = parse("<!-- x --> <!DOCTYPE INSTANCE SYSTEM \"/etc/passwd\">" + instance(""));
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 12: a DOCTYPE is refused (no DTD, "
			 "no entity declarations)");
	// Without a DOCTYPE an entity reference is simply undeclared.
	p = parse(instance(prop("Resync_TlsUsername", "string", "&x;")));
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: not well-formed CIM-XML at line 1, column 111: Entity 'x' "
			 "not defined");
	// The predefined ones and character references are plain text.
	p = parse(instance(prop("Resync_TlsUsername", "string", "a&amp;b&#x41;&lt;")));
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json, normalized(R"({"tls":{"username":"a&bA<"}})"));
}

TEST(SettingsCimXml, BoundedInSizeAndDepth)
{
	// Just under the limit parses; one byte over is refused unread.
	std::string filler = "<!--" + std::string(100, 'x') + "-->";
	std::string doc = kOpen;
	while (doc.size() + filler.size() + kClose.size() <= CTL_SETTINGS_MAX_LEN)
		doc += filler;
	doc += std::string(CTL_SETTINGS_MAX_LEN - doc.size() - kClose.size(), ' ') + kClose;
	ASSERT_EQ(doc.size(), (size_t)CTL_SETTINGS_MAX_LEN);
	Parsed p = parse(doc);
	EXPECT_EQ(p.rv, 0u) << p.msg;
	p = parse(doc + " ");
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: 1048577 bytes, more than the 1048576 a settings document "
			 "may have");
	// The JSON form has the same bound.
	p = parse("{" + std::string(CTL_SETTINGS_MAX_LEN, ' ') + "}");
	EXPECT_EQ(p.rv, 32773u);
	// Many properties (WMI system ones) near the limit: linear, not stuck.
	std::string many = kOpen;
	std::string sys = prop("__X", "string", "x");
	while (many.size() + sys.size() + kClose.size() <= CTL_SETTINGS_MAX_LEN)
		many += sys;
	p = parse(many + kClose);
	EXPECT_EQ(p.rv, 0u) << p.msg;
	// Positions hold at the end of a long document too (libxml2 shrinks
	// its input buffer as it goes).
	many.resize(many.size() - 40 * sys.size());
	many += "\n" + std::string(1000, ' ') + prop("Bogus", "string", "") + kClose;
	ASSERT_LE(many.size(), (size_t)CTL_SETTINGS_MAX_LEN);
	p = parse(many);
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg.rfind("settings: CIM-XML at line 2, column 1001: unknown property "
			      "\"Bogus\"",
			      0),
		  0u)
		<< p.msg;
	many = kOpen + std::string(CTL_SETTINGS_MAX_LEN - 200, ' ') + "<PROPERTY NAME=\"A\">" +
	       kClose;
	p = parse(many);
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg,
		  "settings: not well-formed CIM-XML at line 1, column " +
			  std::to_string(kOpen.size() + CTL_SETTINGS_MAX_LEN - 200 + 20 + 11) +
			  ": Opening and ending tag mismatch: PROPERTY line 1 and INSTANCE");
	// Nesting: 16 levels are read (and refused for what they are), 17 not.
	std::string deep = kOpen;
	for (int i = 0; i < 16; i++)
		deep += "<QUALIFIER>";
	p = parse(deep);
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: CIM-XML at line 1, column 216: elements nested deeper than 16");
	deep = kOpen;
	for (int i = 0; i < 15; i++)
		deep += "<QUALIFIER>";
	for (int i = 0; i < 15; i++)
		deep += "</QUALIFIER>";
	p = parse(deep + kClose);
	EXPECT_EQ(p.rv, 0u) << p.msg;
}

TEST(SettingsCimXml, JsonFormUnchanged)
{
	// Detection is by the first non-blank character only.
	Parsed p = parse(" \n{\"queue_depth\": 4}");
	ASSERT_EQ(p.rv, 0u) << p.msg;
	EXPECT_EQ(p.json, normalized(instance(prop("Resync_QueueDepth", "uint32", "4"))));
	p = parse("{\n  \"verify\": tru }");
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: not JSON at line 2, column 16: boolean expected");
	p = parse(R"({"queue_depth":0})");
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: \"queue_depth\" out of range (1..1024)");
	p = parse(R"({"queue_depth":-3})");
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: \"queue_depth\" out of range (1..1024)");
	p = parse(R"({"request_size":65537})");
	EXPECT_EQ(p.msg, "settings: \"request_size\" must be a power of two");
	p = parse(R"({"disks":["a","a"]})");
	EXPECT_EQ(p.rv, 32773u);
	EXPECT_EQ(p.msg, "settings: disk \"a\" listed twice");
	p = parse(R"({"disks":["a",1]})");
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg, "settings: \"disks[]\" must be a string");
	p = parse("x");
	EXPECT_EQ(p.rv, 32776u);
	EXPECT_EQ(p.msg.rfind("settings: not JSON at line 1, column 1", 0), 0u) << p.msg;
}
