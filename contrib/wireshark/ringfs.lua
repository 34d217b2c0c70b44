-- SPDX-License-Identifier: MIT
--
-- ringfs.lua: a Wireshark/tshark dissector for the ringfs wire protocol
-- (proto/ringfs_proto.h; doc/protocol.md explains it to people).
--
-- Decodes the 48-byte header, every opcode's request and reply body,
-- errno names, verifies the XXH3-64 checksum, and matches replies to
-- requests (per connection and request id) with the response time.
--
-- Where it applies:
--   * ringfsctl capture files: pcapng link type LINKTYPE_USER0 (147,
--     Wireshark's encapsulation USER0), one whole frame per packet, one
--     interface per connection, the direction in epb_flags;
--   * plain tcpdump/tshark captures of the tcp and uring transports: a
--     heuristic TCP dissector (a segment that starts with the magic "RFNG"
--     and a known major version), frames reassembled across segments.
--
-- Install: copy to ~/.local/lib/wireshark/plugins/ (or, system-wide,
-- /usr/lib/x86_64-linux-gnu/wireshark/plugins/); or for one run:
--   tshark -X lua_script:contrib/wireshark/ringfs.lua -r capture.pcapng
--
-- Display filter fields: ringfs.opcode (the name, "MKDIR"), ringfs.reqid,
-- ringfs.status (0 or -errno), ringfs.errno ("EEXIST"), ringfs.len,
-- ringfs.reply, ringfs.csum.status ("good", "bad", "absent",
-- "unverified"), ringfs.time (response time), ringfs.response_to,
-- ringfs.name, ringfs.nodeid, ringfs.fh, ringfs.offset, ringfs.size ...
--
-- Checksum: XXH3-64 of the header with csum = 0, then the payload, in
-- pure Lua (64-bit arithmetic on pairs of 32-bit numbers).  Verified when
-- the whole frame was captured (not cut by a snap length) and its payload
-- is at most ringfs.csum_max bytes (a preference, 256 KiB by default;
-- larger frames cost too much Lua time): otherwise "unverified".

local p_ringfs = Proto("ringfs", "ringfs protocol")

local MAGIC = 0x474e4652
local HDR = 48
local HF_REPLY, HF_CSUM, HF_UNKNOWN_NODE, HF_REPLAY, HF_GROUPS = 1, 2, 4, 8, 16
local HF_NOTIFY = 32 -- 1.4: a notification from the server (opcode 10)

local bit = bit32 or bit

local ERRNO = {
	[1]="EPERM", [2]="ENOENT", [3]="ESRCH", [4]="EINTR", [5]="EIO", 
	[6]="ENXIO", [7]="E2BIG", [8]="ENOEXEC", [9]="EBADF", [10]="ECHILD", 
	[11]="EAGAIN", [12]="ENOMEM", [13]="EACCES", [14]="EFAULT", [15]="ENOTBLK", 
	[16]="EBUSY", [17]="EEXIST", [18]="EXDEV", [19]="ENODEV", [20]="ENOTDIR", 
	[21]="EISDIR", [22]="EINVAL", [23]="ENFILE", [24]="EMFILE", [25]="ENOTTY", 
	[26]="ETXTBSY", [27]="EFBIG", [28]="ENOSPC", [29]="ESPIPE", [30]="EROFS", 
	[31]="EMLINK", [32]="EPIPE", [33]="EDOM", [34]="ERANGE", [35]="EDEADLOCK", 
	[36]="ENAMETOOLONG", [37]="ENOLCK", [38]="ENOSYS", [39]="ENOTEMPTY", 
	[40]="ELOOP", [42]="ENOMSG", [43]="EIDRM", [44]="ECHRNG", [45]="EL2NSYNC", 
	[46]="EL3HLT", [47]="EL3RST", [48]="ELNRNG", [49]="EUNATCH", [50]="ENOCSI", 
	[51]="EL2HLT", [52]="EBADE", [53]="EBADR", [54]="EXFULL", [55]="ENOANO", 
	[56]="EBADRQC", [57]="EBADSLT", [59]="EBFONT", [60]="ENOSTR", 
	[61]="ENODATA", [62]="ETIME", [63]="ENOSR", [64]="ENONET", [65]="ENOPKG", 
	[66]="EREMOTE", [67]="ENOLINK", [68]="EADV", [69]="ESRMNT", [70]="ECOMM", 
	[71]="EPROTO", [72]="EMULTIHOP", [73]="EDOTDOT", [74]="EBADMSG", 
	[75]="EOVERFLOW", [76]="ENOTUNIQ", [77]="EBADFD", [78]="EREMCHG", 
	[79]="ELIBACC", [80]="ELIBBAD", [81]="ELIBSCN", [82]="ELIBMAX", 
	[83]="ELIBEXEC", [84]="EILSEQ", [85]="ERESTART", [86]="ESTRPIPE", 
	[87]="EUSERS", [88]="ENOTSOCK", [89]="EDESTADDRREQ", [90]="EMSGSIZE", 
	[91]="EPROTOTYPE", [92]="ENOPROTOOPT", [93]="EPROTONOSUPPORT", 
	[94]="ESOCKTNOSUPPORT", [95]="ENOTSUP", [96]="EPFNOSUPPORT", 
	[97]="EAFNOSUPPORT", [98]="EADDRINUSE", [99]="EADDRNOTAVAIL", 
	[100]="ENETDOWN", [101]="ENETUNREACH", [102]="ENETRESET", 
	[103]="ECONNABORTED", [104]="ECONNRESET", [105]="ENOBUFS", [106]="EISCONN", 
	[107]="ENOTCONN", [108]="ESHUTDOWN", [109]="ETOOMANYREFS", 
	[110]="ETIMEDOUT", [111]="ECONNREFUSED", [112]="EHOSTDOWN", 
	[113]="EHOSTUNREACH", [114]="EALREADY", [115]="EINPROGRESS", 
	[116]="ESTALE", [117]="EUCLEAN", [118]="ENOTNAM", [119]="ENAVAIL", 
	[120]="EISNAM", [121]="EREMOTEIO", [122]="EDQUOT", [123]="ENOMEDIUM", 
	[124]="EMEDIUMTYPE", [125]="ECANCELED", [126]="ENOKEY", 
	[127]="EKEYEXPIRED", [128]="EKEYREVOKED", [129]="EKEYREJECTED", 
	[130]="EOWNERDEAD", [131]="ENOTRECOVERABLE", [132]="ERFKILL"
}

local OPS = {
	[1] = "HELLO", [2] = "ATTACH", [3] = "PING", [4] = "BYE", [5] = "STATS",
	[6] = "RESOLVE", [7] = "AUTH", [8] = "PATHS", [9] = "RESUME",
	[10] = "NOTIFY",
	[16] = "LOOKUP", [17] = "FORGET", [18] = "GETATTR", [19] = "SETATTR",
	[20] = "READLINK", [21] = "SYMLINK", [22] = "MKNOD", [23] = "MKDIR",
	[24] = "UNLINK", [25] = "RMDIR", [26] = "RENAME", [27] = "LINK",
	[28] = "OPEN", [29] = "CREATE", [30] = "READ", [31] = "WRITE",
	[32] = "FLUSH", [33] = "RELEASE", [34] = "FSYNC", [35] = "OPENDIR",
	[36] = "READDIRPLUS", [37] = "RELEASEDIR", [38] = "FSYNCDIR",
	[39] = "STATFS", [40] = "ACCESS", [41] = "SETXATTR", [42] = "GETXATTR",
	[43] = "LISTXATTR", [44] = "REMOVEXATTR", [45] = "GETLK", [46] = "SETLK",
	[47] = "FLOCK", [48] = "FALLOCATE", [49] = "COPY_FILE_RANGE",
	[50] = "LSEEK",
}

local status_vs = { [0] = "OK" }
for n, name in pairs(ERRNO) do status_vs[-n] = name end

-- ---- fields -------------------------------------------------------------

local F = {}
local function field(name, ...)
	F[name] = ...
end
field("magic", ProtoField.uint32("ringfs.magic", "Magic", base.HEX))
field("opcode", ProtoField.string("ringfs.opcode", "Opcode"))
field("opnum", ProtoField.uint16("ringfs.opnum", "Opcode number"))
field("version", ProtoField.string("ringfs.version", "Version"))
field("flags", ProtoField.uint32("ringfs.flags", "Flags", base.HEX))
field("f_reply", ProtoField.bool("ringfs.flags.reply", "Reply", 32, nil, HF_REPLY))
field("f_csum", ProtoField.bool("ringfs.flags.csum", "Checksum present", 32, nil, HF_CSUM))
field("f_unknown", ProtoField.bool("ringfs.flags.unknown_node", "Unknown node", 32, nil, HF_UNKNOWN_NODE))
field("f_replay", ProtoField.bool("ringfs.flags.replay", "Replay", 32, nil, HF_REPLAY))
field("f_groups", ProtoField.bool("ringfs.flags.groups", "Groups follow", 32, nil, HF_GROUPS))
field("f_notify", ProtoField.bool("ringfs.flags.notify", "Notification", 32, nil, HF_NOTIFY))
field("notify_kind", ProtoField.uint32("ringfs.notify.kind", "Notification", base.DEC, { [1] = "INODE", [2] = "ENTRY" }))
field("reply", ProtoField.bool("ringfs.reply", "Is reply"))
field("len", ProtoField.uint32("ringfs.len", "Payload length"))
field("reqid", ProtoField.uint64("ringfs.reqid", "Request id"))
field("status", ProtoField.int32("ringfs.status", "Status", base.DEC, status_vs))
field("errno", ProtoField.string("ringfs.errno", "Errno"))
field("uid", ProtoField.uint32("ringfs.uid", "uid"))
field("gid", ProtoField.uint32("ringfs.gid", "gid"))
field("pid", ProtoField.uint32("ringfs.pid", "pid"))
field("csum", ProtoField.uint64("ringfs.csum", "Checksum", base.HEX))
field("csum_status", ProtoField.string("ringfs.csum.status", "Checksum status"))
field("csum_calc", ProtoField.string("ringfs.csum.calculated", "Calculated checksum"))
field("response_to", ProtoField.framenum("ringfs.response_to", "Response to", base.NONE, frametype.REQUEST))
field("response_in", ProtoField.framenum("ringfs.response_in", "Response in", base.NONE, frametype.RESPONSE))
field("time", ProtoField.relative_time("ringfs.time", "Response time"))
field("body", ProtoField.bytes("ringfs.body", "Body"))
field("data", ProtoField.bytes("ringfs.data", "Data"))
field("name", ProtoField.string("ringfs.name", "Name"))
field("newname", ProtoField.string("ringfs.newname", "New name"))
field("target", ProtoField.string("ringfs.target", "Symlink target"))
field("export", ProtoField.string("ringfs.export", "Export"))
field("nodeid", ProtoField.uint64("ringfs.nodeid", "Node id", base.HEX))
field("parent", ProtoField.uint64("ringfs.parent", "Parent node", base.HEX))
field("newparent", ProtoField.uint64("ringfs.newparent", "New parent node", base.HEX))
field("generation", ProtoField.uint64("ringfs.generation", "Generation"))
field("fh", ProtoField.uint64("ringfs.fh", "File handle", base.HEX))
field("offset", ProtoField.int64("ringfs.offset", "Offset"))
field("size", ProtoField.uint64("ringfs.size", "Size"))
field("length", ProtoField.uint64("ringfs.length", "Length"))
field("mode", ProtoField.uint32("ringfs.mode", "Mode", base.OCT))
field("umask", ProtoField.uint32("ringfs.umask", "umask", base.OCT))
field("rdev", ProtoField.uint32("ringfs.rdev", "rdev", base.HEX))
field("oflags", ProtoField.uint32("ringfs.oflags", "Flags", base.HEX))
field("valid", ProtoField.uint32("ringfs.setattr.valid", "Valid", base.HEX))
field("written", ProtoField.uint32("ringfs.written", "Written"))
field("count", ProtoField.uint32("ringfs.count", "Count"))
field("nlookup", ProtoField.uint64("ringfs.nlookup", "Lookups"))
field("mask", ProtoField.uint32("ringfs.access.mask", "Mask", base.HEX))
field("whence", ProtoField.uint32("ringfs.whence", "Whence"))
field("lock_owner", ProtoField.uint64("ringfs.lock_owner", "Lock owner", base.HEX))
field("lk_start", ProtoField.uint64("ringfs.lock.start", "Lock start"))
field("lk_end", ProtoField.uint64("ringfs.lock.end", "Lock end"))
field("lk_type", ProtoField.uint32("ringfs.lock.type", "Lock type", base.DEC, { [0] = "RDLCK", [1] = "WRLCK", [2] = "UNLCK" }))
field("lk_pid", ProtoField.uint32("ringfs.lock.pid", "Lock pid"))
field("handle", ProtoField.bytes("ringfs.handle", "Handle"))
field("features", ProtoField.uint64("ringfs.features", "Features", base.HEX))
field("session", ProtoField.uint64("ringfs.session", "Session", base.HEX))
field("token", ProtoField.bytes("ringfs.token", "Token"))
field("max_msg", ProtoField.uint32("ringfs.max_msg", "Max message"))
field("max_inflight", ProtoField.uint32("ringfs.max_inflight", "Max in flight"))
field("export_flags", ProtoField.uint32("ringfs.export_flags", "Export flags", base.HEX))
field("step", ProtoField.uint32("ringfs.auth.step", "Auth step", base.DEC, { [1] = "CHALLENGE", [2] = "PROVE" }))
field("nonce", ProtoField.bytes("ringfs.auth.nonce", "Nonce"))
field("mac", ProtoField.bytes("ringfs.auth.mac", "MAC"))
field("instance", ProtoField.uint64("ringfs.instance", "Server instance", base.HEX))
field("unix_path", ProtoField.string("ringfs.unix_path", "Unix socket"))
field("rdma_addr", ProtoField.string("ringfs.rdma_addr", "RDMA address"))
field("stat", ProtoField.uint64("ringfs.stat", "Counter"))
field("ino", ProtoField.uint64("ringfs.attr.ino", "Inode"))
field("a_size", ProtoField.uint64("ringfs.attr.size", "Size"))
field("blocks", ProtoField.uint64("ringfs.attr.blocks", "Blocks"))
field("a_time", ProtoField.int64("ringfs.attr.time", "Time (s)"))
field("a_ns", ProtoField.uint32("ringfs.attr.ns", "Time (ns)"))
field("a_mode", ProtoField.uint32("ringfs.attr.mode", "Mode", base.OCT))
field("nlink", ProtoField.uint32("ringfs.attr.nlink", "Links"))
field("a_uid", ProtoField.uint32("ringfs.attr.uid", "uid"))
field("a_gid", ProtoField.uint32("ringfs.attr.gid", "gid"))
field("blksize", ProtoField.uint32("ringfs.attr.blksize", "Block size"))
field("dirent_off", ProtoField.uint64("ringfs.dirent.off", "Cookie"))
field("dirent_type", ProtoField.uint8("ringfs.dirent.type", "Type"))
field("groups", ProtoField.uint32("ringfs.groups.count", "Supplementary groups"))
field("group", ProtoField.uint32("ringfs.groups.gid", "Group"))
field("replies", ProtoField.uint32("ringfs.resume.replies", "Replies taken over"))
field("statfs", ProtoField.uint64("ringfs.statfs", "statfs"))

local pf = {}
for _, v in pairs(F) do pf[#pf + 1] = v end
p_ringfs.fields = pf

local E = {
	bad_csum = ProtoExpert.new("ringfs.csum.bad", "Bad checksum", expert.group.CHECKSUM, expert.severity.ERROR),
	error_status = ProtoExpert.new("ringfs.error", "Error reply", expert.group.RESPONSE_CODE, expert.severity.NOTE),
	malformed = ProtoExpert.new("ringfs.malformed", "Malformed frame", expert.group.MALFORMED, expert.severity.ERROR),
}
p_ringfs.experts = { E.bad_csum, E.error_status, E.malformed }

p_ringfs.prefs.csum_max = Pref.uint("Largest payload to checksum",
	262144, "Frames with a larger payload are not checksummed (Lua is slow)")

local f_iface = Field.new("frame.interface_id")
local f_tcp_stream = Field.new("tcp.stream")
local f_time = Field.new("frame.time_epoch")

-- ---- XXH3-64 on (hi, lo) pairs of 32-bit numbers -------------------------

local TWO32 = 4294967296
local floor = math.floor

local function mul32(x, y) -- 32 x 32 -> hi, lo
	local x0, x1 = x % 65536, floor(x / 65536)
	local y0, y1 = y % 65536, floor(y / 65536)
	local mid = x0 * y1 + x1 * y0
	local lo = x0 * y0 + (mid % 65536) * 65536
	local hi = x1 * y1 + floor(mid / 65536) + floor(lo / TWO32)
	return hi % TWO32, lo % TWO32
end

local function add(ah, al, bh, bl)
	local l = al + bl
	local h = ah + bh
	if l >= TWO32 then l = l - TWO32; h = h + 1 end
	return h % TWO32, l
end

local function mul64(ah, al, bh, bl) -- mod 2^64
	local h, l = mul32(al, bl)
	local _, x = mul32(ah, bl)
	local _, y = mul32(al, bh)
	return (h + x + y) % TWO32, l
end

local function mul128_fold(ah, al, bh, bl)
	local a = { al % 65536, floor(al / 65536), ah % 65536, floor(ah / 65536) }
	local b = { bl % 65536, floor(bl / 65536), bh % 65536, floor(bh / 65536) }
	local r = { 0, 0, 0, 0, 0, 0, 0, 0 }
	for i = 1, 4 do
		local carry, ai = 0, a[i]
		for j = 1, 4 do
			local t = r[i + j - 1] + ai * b[j] + carry
			r[i + j - 1] = t % 65536
			carry = floor(t / 65536)
		end
		r[i + 4] = carry
	end
	return bit.bxor(r[8] * 65536 + r[7], r[4] * 65536 + r[3]),
		bit.bxor(r[6] * 65536 + r[5], r[2] * 65536 + r[1])
end

local function xor64(ah, al, bh, bl)
	return bit.bxor(ah, bh), bit.bxor(al, bl)
end

local SECRET_HEX = "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671fcb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e"
local SECRET = SECRET_HEX:gsub("..", function(h) return string.char(tonumber(h, 16)) end)

local function rd64(s, i) -- 0-based offset i
	local b1, b2, b3, b4, b5, b6, b7, b8 = s:byte(i + 1, i + 8)
	return b5 + b6 * 256 + b7 * 65536 + b8 * 16777216,
		b1 + b2 * 256 + b3 * 65536 + b4 * 16777216
end

local P64_1 = { 0x9E3779B1, 0x85EBCA87 }
local P32_1 = 0x9E3779B1

local function avalanche(h, l)
	l = bit.bxor(l, bit.rshift(h, 5)) -- h ^= h >> 37
	h, l = mul64(h, l, 0x16566791, 0x9E3779F9)
	return h, bit.bxor(l, h) -- h ^= h >> 32
end

local function mix16(s, i, j)
	local ih, il = rd64(s, i)
	local jh, jl = rd64(s, i + 8)
	local sh, sl = rd64(SECRET, j)
	local th, tl = rd64(SECRET, j + 8)
	return mul128_fold(bit.bxor(ih, sh), bit.bxor(il, sl),
		bit.bxor(jh, th), bit.bxor(jl, tl))
end

local function xxh3_mid(s, len)
	local ah, al = mul64(0, len, P64_1[1], P64_1[2])
	local function acc(i, j)
		local h, l = mix16(s, i, j)
		ah, al = add(ah, al, h, l)
	end
	if len <= 128 then
		if len > 32 then
			if len > 64 then
				if len > 96 then
					acc(48, 96); acc(len - 64, 112)
				end
				acc(32, 64); acc(len - 48, 80)
			end
			acc(16, 32); acc(len - 32, 48)
		end
		acc(0, 0); acc(len - 16, 16)
		return avalanche(ah, al)
	end
	for i = 0, 7 do acc(16 * i, 16 * i) end
	ah, al = avalanche(ah, al)
	for i = 8, floor(len / 16) - 1 do acc(16 * i, 16 * (i - 8) + 3) end
	acc(len - 16, 136 - 17)
	return avalanche(ah, al)
end

local function xxh3_long(s, len)
	local A = { { 0, 0xC2B2AE3D }, { P64_1[1], P64_1[2] }, { 0xC2B2AE3D, 0x27D4EB4F },
		{ 0x165667B1, 0x9E3779F9 }, { 0x85EBCA77, 0xC2B2AE63 },
		{ 0, 0x85EBCA77 }, { 0x27D4EB2F, 0x165667C5 }, { 0, 0x9E3779B1 } }
	local function acc512(i, j)
		for k = 0, 7 do
			local dh, dl = rd64(s, i + 8 * k)
			local kh, kl = rd64(SECRET, j + 8 * k)
			local xh, xl = bit.bxor(dh, kh), bit.bxor(dl, kl)
			local o = A[bit.bxor(k, 1) + 1]
			o[1], o[2] = add(o[1], o[2], dh, dl)
			local mh, ml = mul32(xl, xh)
			local a = A[k + 1]
			a[1], a[2] = add(a[1], a[2], mh, ml)
		end
	end
	local function scramble()
		for k = 0, 7 do
			local a = A[k + 1]
			local h, l = a[1], bit.bxor(a[2], bit.rshift(a[1], 15))
			local kh, kl = rd64(SECRET, 128 + 8 * k)
			h, l = bit.bxor(h, kh), bit.bxor(l, kl)
			a[1], a[2] = mul64(h, l, 0, P32_1)
		end
	end
	local nb = floor((len - 1) / 1024)
	for n = 0, nb - 1 do
		for st = 0, 15 do acc512(n * 1024 + st * 64, st * 8) end
		scramble()
	end
	local ns = floor(((len - 1) - 1024 * nb) / 64)
	for st = 0, ns - 1 do acc512(nb * 1024 + st * 64, st * 8) end
	acc512(len - 64, 192 - 64 - 7)
	local rh, rl = mul64(0, len, P64_1[1], P64_1[2])
	for i = 0, 3 do
		local sh, sl = rd64(SECRET, 11 + 16 * i)
		local th, tl = rd64(SECRET, 11 + 16 * i + 8)
		local a, b = A[2 * i + 1], A[2 * i + 2]
		local h, l = mul128_fold(bit.bxor(a[1], sh), bit.bxor(a[2], sl),
			bit.bxor(b[1], th), bit.bxor(b[2], tl))
		rh, rl = add(rh, rl, h, l)
	end
	return avalanche(rh, rl)
end

-- frames are at least 48 bytes: never the short paths
local function xxh3(s)
	local len = #s
	if len <= 240 then return xxh3_mid(s, len) end
	return xxh3_long(s, len)
end

-- ---- body decoders ---------------------------------------------------------
-- Each takes (tvb range of the body, tree, reply?) and adds items; a
-- reader object keeps the offset and stops at the end of what was captured.

local function R(tvb, off, stop, tree)
	return { tvb = tvb, off = off, stop = stop, tree = tree }
end

local function room(r, n)
	return r.off + n <= r.stop
end

local function u(r, name, n)
	if not room(r, n) then r.off = r.stop; return nil end
	local rng = r.tvb(r.off, n)
	r.tree:add_le(F[name], rng)
	r.off = r.off + n
	if n == 8 then return rng:le_uint64() end
	return rng:le_uint()
end

local function skip(r, n)
	r.off = math.min(r.off + n, r.stop)
end

local function str(r, name, n)
	if not n or n == 0 then return "" end
	local m = math.min(n, r.stop - r.off)
	if m <= 0 then return nil end
	local rng = r.tvb(r.off, m)
	r.tree:add(F[name], rng)
	r.off = r.off + m
	return rng:string()
end

local function bytes(r, name, n)
	n = n or (r.stop - r.off)
	local m = math.min(n, r.stop - r.off)
	if m > 0 then r.tree:add(F[name], r.tvb(r.off, m)) end
	r.off = r.off + m
end

local function attr(r, label)
	if not room(r, 88) then bytes(r, "body"); return end
	local t = r.tree:add(p_ringfs, r.tvb(r.off, 88), label or "Attributes")
	local s = R(r.tvb, r.off, r.off + 88, t)
	u(s, "ino", 8); u(s, "a_size", 8); u(s, "blocks", 8)
	u(s, "a_time", 8); u(s, "a_time", 8); u(s, "a_time", 8)
	u(s, "a_ns", 4); u(s, "a_ns", 4); u(s, "a_ns", 4)
	u(s, "a_mode", 4); u(s, "nlink", 4); u(s, "a_uid", 4); u(s, "a_gid", 4)
	u(s, "rdev", 4); u(s, "blksize", 4)
	r.off = r.off + 88
end

local function entry(r, label)
	if not room(r, 112) then bytes(r, "body"); return end
	local t = r.tree:add(p_ringfs, r.tvb(r.off, 112), label or "Entry")
	local s = R(r.tvb, r.off, r.stop, t)
	u(s, "nodeid", 8); u(s, "generation", 8)
	attr(s)
	local hl = u(s, "count", 2) or 0
	skip(s, 6)
	bytes(s, "handle", hl)
	skip(s, (8 - hl % 8) % 8)
	r.off = s.off
end

local function rest_data(r)
	bytes(r, "data")
end

local REQ, REP = {}, {}

REQ.HELLO = function(r)
	u(r, "features", 8); u(r, "max_msg", 4)
	local el = u(r, "count", 2); skip(r, 2); u(r, "max_inflight", 4); skip(r, 4)
	str(r, "export", el)
end
REP.HELLO = function(r)
	u(r, "features", 8); u(r, "session", 8); bytes(r, "token", 16)
	u(r, "max_msg", 4); u(r, "max_inflight", 4); u(r, "export_flags", 4)
	skip(r, 4); entry(r, "Root")
end
REQ.ATTACH = function(r) u(r, "session", 8); bytes(r, "token", 16) end
REQ.RESUME = REQ.ATTACH
REP.RESUME = function(r) u(r, "replies", 4) end
-- 1.4: struct rfs_notify, then the name (ENTRY)
local function notify_body(r)
	u(r, "nodeid", 8); u(r, "parent", 8); u(r, "notify_kind", 4)
	local nl = u(r, "count", 2); skip(r, 2); str(r, "name", nl)
end
REQ.PING = rest_data
REP.PING = rest_data
REP.STATS = function(r) for _ = 1, 8 do u(r, "stat", 8) end end
REQ.RESOLVE = function(r)
	u(r, "nodeid", 8); local hl = u(r, "count", 2); skip(r, 6)
	bytes(r, "handle", hl)
end
REP.RESOLVE = function(r) attr(r) end
REQ.AUTH = function(r)
	u(r, "step", 4); local el = u(r, "count", 2); skip(r, 2)
	bytes(r, "nonce", 32); bytes(r, "mac", 32); str(r, "export", el)
end
REP.AUTH = function(r) bytes(r, "nonce", 32); bytes(r, "mac", 32) end
REP.PATHS = function(r)
	u(r, "instance", 8); local ul = u(r, "count", 2); local rl = u(r, "count", 2)
	skip(r, 4); str(r, "unix_path", ul); str(r, "rdma_addr", rl)
end
local function name_req(r)
	u(r, "parent", 8); local nl = u(r, "count", 2); skip(r, 6)
	str(r, "name", nl)
end
REQ.LOOKUP = name_req
REQ.UNLINK = name_req
REQ.RMDIR = name_req
REP.LOOKUP = function(r) entry(r) end
REQ.FORGET = function(r)
	local n = u(r, "count", 4) or 0; skip(r, 4)
	for _ = 1, n do
		if not room(r, 16) then break end
		u(r, "nodeid", 8); u(r, "nlookup", 8)
	end
end
local function node_req(r) u(r, "nodeid", 8); u(r, "fh", 8) end
REQ.GETATTR = node_req
REQ.READLINK = node_req
REQ.STATFS = node_req
REP.GETATTR = function(r) attr(r) end
REP.SETATTR = REP.GETATTR
REP.READLINK = function(r) str(r, "target", r.stop - r.off) end
REP.STATFS = function(r) for _ = 1, 7 do u(r, "statfs", 8) end end
REQ.SETATTR = function(r)
	u(r, "nodeid", 8); u(r, "fh", 8); u(r, "valid", 4); u(r, "mode", 4)
	u(r, "a_uid", 4); u(r, "a_gid", 4); u(r, "size", 8)
	u(r, "a_time", 8); u(r, "a_time", 8); u(r, "a_ns", 4); u(r, "a_ns", 4)
end
local function make_req(r)
	u(r, "parent", 8); u(r, "mode", 4); u(r, "umask", 4); u(r, "rdev", 4)
	u(r, "oflags", 4); local nl = u(r, "count", 2); local tl = u(r, "count", 2)
	skip(r, 4); str(r, "name", nl); str(r, "target", tl)
end
REQ.SYMLINK = make_req
REQ.MKNOD = make_req
REQ.MKDIR = make_req
REQ.CREATE = make_req
REP.SYMLINK = REP.LOOKUP
REP.MKNOD = REP.LOOKUP
REP.MKDIR = REP.LOOKUP
REP.LINK = REP.LOOKUP
REP.CREATE = function(r)
	u(r, "fh", 8); u(r, "oflags", 4); skip(r, 4); entry(r)
end
REQ.RENAME = function(r)
	u(r, "parent", 8); u(r, "newparent", 8); u(r, "oflags", 4)
	local nl = u(r, "count", 2); local nn = u(r, "count", 2)
	str(r, "name", nl); str(r, "newname", nn)
end
REQ.LINK = function(r)
	u(r, "nodeid", 8); u(r, "newparent", 8); local nl = u(r, "count", 2)
	skip(r, 6); str(r, "name", nl)
end
local function open_req(r) u(r, "nodeid", 8); u(r, "oflags", 4) end
REQ.OPEN = open_req
REQ.OPENDIR = open_req
local function open_rep(r) u(r, "fh", 8); u(r, "oflags", 4) end
REP.OPEN = open_rep
REP.OPENDIR = open_rep
local function io_req(r)
	u(r, "nodeid", 8); u(r, "fh", 8); u(r, "offset", 8); u(r, "size", 4)
	u(r, "oflags", 4); u(r, "lock_owner", 8); rest_data(r)
end
REQ.READ = io_req
REQ.WRITE = io_req
REQ.READDIRPLUS = io_req
REP.READ = rest_data
REP.WRITE = function(r) u(r, "written", 4) end
REP.COPY_FILE_RANGE = REP.WRITE
REP.READDIRPLUS = function(r)
	while room(r, 128) do
		local nl = r.tvb(r.off + 8, 2):le_uint()
		local hl = r.tvb(r.off + 16 + 104, 2):le_uint()
		local total = 128 + nl + hl
		total = total + (8 - total % 8) % 8
		local t = r.tree:add(p_ringfs, r.tvb(r.off, math.min(total, r.stop - r.off)), "Directory entry")
		local s = R(r.tvb, r.off, r.stop, t)
		u(s, "dirent_off", 8); u(s, "count", 2); u(s, "dirent_type", 1); skip(s, 5)
		entry(s)
		str(s, "name", nl)
		r.off = math.min(r.off + total, r.stop)
	end
end
local function fh_req(r)
	u(r, "nodeid", 8); u(r, "fh", 8); u(r, "lock_owner", 8); u(r, "oflags", 4)
end
for _, n in ipairs({ "FLUSH", "RELEASE", "FSYNC", "RELEASEDIR", "FSYNCDIR" }) do
	REQ[n] = fh_req
end
REQ.ACCESS = function(r) u(r, "nodeid", 8); u(r, "mask", 4) end
local function xattr_req(r)
	u(r, "nodeid", 8); local sz = u(r, "size", 4); u(r, "oflags", 4)
	local nl = u(r, "count", 2); skip(r, 6); str(r, "name", nl)
	return sz
end
REQ.SETXATTR = function(r) xattr_req(r); rest_data(r) end
REQ.GETXATTR = xattr_req
REQ.LISTXATTR = xattr_req
REQ.REMOVEXATTR = xattr_req
local function xattr_rep(r) u(r, "size", 4); skip(r, 4); rest_data(r) end
REP.GETXATTR = xattr_rep
REP.LISTXATTR = xattr_rep
local function lock(r)
	u(r, "lk_start", 8); u(r, "lk_end", 8); u(r, "lk_type", 4); u(r, "lk_pid", 4)
end
local function lock_req(r)
	u(r, "nodeid", 8); u(r, "fh", 8); u(r, "lock_owner", 8); u(r, "oflags", 4)
	skip(r, 4); lock(r)
end
REQ.GETLK = lock_req
REQ.SETLK = lock_req
REQ.FLOCK = lock_req
REP.GETLK = lock
REQ.FALLOCATE = function(r)
	u(r, "nodeid", 8); u(r, "fh", 8); u(r, "offset", 8); u(r, "length", 8)
	u(r, "mode", 4)
end
REQ.COPY_FILE_RANGE = function(r)
	u(r, "nodeid", 8); u(r, "fh", 8); u(r, "offset", 8)
	u(r, "nodeid", 8); u(r, "fh", 8); u(r, "offset", 8)
	u(r, "length", 8); u(r, "oflags", 4)
end
REQ.LSEEK = function(r)
	u(r, "nodeid", 8); u(r, "fh", 8); u(r, "offset", 8); u(r, "whence", 4)
end
REP.LSEEK = function(r) u(r, "offset", 8) end

-- ---- request/reply matching ----------------------------------------------

-- key: connection (pcapng interface or TCP stream) and request id
local requests = {} -- key -> { frame, time }
local replies = {}  -- reply frame number -> { frame, time delta }
local answered = {} -- request frame number -> reply frame number

function p_ringfs.init()
	requests, replies, answered = {}, {}, {}
end

local function conn_key(pinfo)
	local s = f_tcp_stream()
	if s then return "t" .. tostring(s.value) end
	local i = f_iface()
	return "i" .. (i and tostring(i.value) or "0")
end

-- ---- one frame ---------------------------------------------------------------

local function dissect_frame(tvb, pinfo, tree, off)
	local cap = tvb:len() - off
	local len = tvb(off + 12, 4):le_uint()
	local flags = tvb(off + 8, 4):le_uint()
	local opnum = tvb(off + 4, 2):le_uint()
	local opname = OPS[opnum] or ("OP_" .. opnum)
	local is_reply = bit.band(flags, HF_REPLY) ~= 0
	local is_notify = bit.band(flags, HF_NOTIFY) ~= 0
	local status = tvb(off + 24, 4):le_int()
	local reqid = tvb(off + 16, 8):le_uint64()
	local whole = math.min(HDR + len, cap)

	local t = tree:add(p_ringfs, tvb(off, whole))
	t:add_le(F.magic, tvb(off, 4))
	t:add(F.opcode, tvb(off + 4, 2), opname)
	t:add_le(F.opnum, tvb(off + 4, 2))
	t:add(F.version, tvb(off + 6, 2), tvb(off + 6, 1):uint() .. "." .. tvb(off + 7, 1):uint())
	local ft = t:add_le(F.flags, tvb(off + 8, 4))
	ft:add_le(F.f_reply, tvb(off + 8, 4))
	ft:add_le(F.f_csum, tvb(off + 8, 4))
	ft:add_le(F.f_unknown, tvb(off + 8, 4))
	ft:add_le(F.f_replay, tvb(off + 8, 4))
	ft:add_le(F.f_groups, tvb(off + 8, 4))
	ft:add_le(F.f_notify, tvb(off + 8, 4))
	t:add(F.reply, tvb(off + 8, 4), is_reply)
	t:add_le(F.len, tvb(off + 12, 4))
	t:add_le(F.reqid, tvb(off + 16, 8))
	local st = t:add_le(F.status, tvb(off + 24, 4))
	local ename
	if status < 0 then
		ename = ERRNO[-status] or ("errno " .. -status)
		t:add(F.errno, tvb(off + 24, 4), ename)
		st:add_proto_expert_info(E.error_status, opname .. " failed: " .. ename)
	end
	t:add_le(F.uid, tvb(off + 28, 4))
	t:add_le(F.gid, tvb(off + 32, 4))
	t:add_le(F.pid, tvb(off + 36, 4))
	local ct = t:add_le(F.csum, tvb(off + 40, 8))
	local cstat
	if bit.band(flags, HF_CSUM) == 0 then
		cstat = "absent"
	elseif cap < HDR + len or len > p_ringfs.prefs.csum_max then
		cstat = "unverified"
	else
		local s = tvb:raw(off, 40) .. string.rep("\0", 8) .. tvb:raw(off + HDR, len)
		local h, l = xxh3(s)
		local calc = string.format("0x%08x%08x", h, l)
		local want = tvb(off + 40, 8):le_uint64()
		if string.format("0x%s", want:tohex()):lower() == calc then
			cstat = "good"
		else
			cstat = "bad"
			ct:add_proto_expert_info(E.bad_csum, "checksum " .. calc .. " expected")
		end
		t:add(F.csum_calc, tvb(off + 40, 8), calc)
	end
	t:add(F.csum_status, tvb(off + 40, 8), cstat)

	-- matching and response time
	local key = conn_key(pinfo) .. ":" .. tostring(reqid)
	local now = f_time() and f_time().value
	if not pinfo.visited and not is_notify then
		if is_reply then
			local rq = requests[key]
			if rq then
				replies[pinfo.number] = { rq.frame, now - rq.time }
				answered[rq.frame] = pinfo.number
				requests[key] = nil
			end
		else
			requests[key] = { frame = pinfo.number, time = now }
		end
	end
	if is_reply and replies[pinfo.number] then
		local m = replies[pinfo.number]
		t:add(F.response_to, m[1]):set_generated()
		t:add(F.time, m[2]):set_generated()
	elseif not is_reply and answered[pinfo.number] then
		t:add(F.response_in, answered[pinfo.number]):set_generated()
	end

	-- the body
	local bstop = off + whole
	local body_end = bstop
	if not is_reply and bit.band(flags, HF_GROUPS) ~= 0 and cap >= HDR + len and len >= 8 then
		local n = tvb(off + HDR + len - 8, 4):le_uint()
		if 4 * n + 8 <= len then
			body_end = off + HDR + len - 4 * n - 8
			local gt = t:add(F.groups, tvb(off + HDR + len - 8, 4))
			for k = 0, n - 1 do gt:add_le(F.group, tvb(body_end + 4 * k, 4)) end
		end
	end
	if len > 0 and body_end > off + HDR then
		local bt = t:add(p_ringfs, tvb(off + HDR, body_end - off - HDR), is_notify and "Notification body" or is_reply and "Reply body" or "Request body")
		local r = R(tvb, off + HDR, body_end, bt)
		local fn
		if is_notify then
			fn = notify_body
		elseif is_reply and bit.band(flags, HF_UNKNOWN_NODE) ~= 0 then
			fn = function(rr) u(rr, "nodeid", 8) end
		elseif is_reply and status ~= 0 then
			fn = rest_data
		else
			fn = (is_reply and REP or REQ)[opname] or rest_data
		end
		local ok, err = pcall(fn, r)
		if not ok then bt:add_proto_expert_info(E.malformed, tostring(err)) end
	end

	local info = opname .. (is_notify and " notification" or is_reply and " reply" or " request") .. " id=" .. tostring(reqid)
	if is_reply then
		info = info .. (status < 0 and (" " .. ename) or " OK")
	end
	if cstat == "bad" then info = info .. " [BAD CHECKSUM]" end
	t:append_text(", " .. info .. ", len " .. len)
	return info, HDR + len
end

local function set_info(pinfo, infos)
	pinfo.cols.protocol = "ringfs"
	pinfo.cols.info = table.concat(infos, "; ")
end

-- ringfsctl capture: one frame per packet
function p_ringfs.dissector(tvb, pinfo, tree)
	if tvb:len() < HDR or tvb(0, 4):le_uint() ~= MAGIC then return 0 end
	local info = dissect_frame(tvb, pinfo, tree, 0)
	set_info(pinfo, { info })
	return tvb:len()
end

-- a byte stream (tcp, uring): frames back to back, across segments
local function stream(tvb, pinfo, tree)
	local off, n = 0, tvb:len()
	local infos = {}
	while off < n do
		if n - off < HDR then
			pinfo.desegment_offset = off
			pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
			break
		end
		if tvb(off, 4):le_uint() ~= MAGIC then break end
		local need = HDR + tvb(off + 12, 4):le_uint()
		if n - off < need then
			pinfo.desegment_offset = off
			pinfo.desegment_len = need - (n - off)
			break
		end
		local info = dissect_frame(tvb(off, need):tvb(), pinfo, tree, 0)
		infos[#infos + 1] = info
		off = off + need
	end
	if #infos > 0 then set_info(pinfo, infos) end
	return off
end

local p_ringfs_tcp = Proto("ringfs_tcp", "ringfs over a byte stream")
function p_ringfs_tcp.dissector(tvb, pinfo, tree)
	return stream(tvb, pinfo, tree)
end

local function heuristic(tvb, pinfo, tree)
	if tvb:len() < 8 or tvb(0, 4):le_uint() ~= MAGIC or tvb(6, 1):uint() ~= 1 then
		return false
	end
	pinfo.conversation = p_ringfs_tcp
	stream(tvb, pinfo, tree)
	return true
end

local encap = (wtap_encaps and wtap_encaps.USER0) or (wtap and wtap.USER0) or 45
DissectorTable.get("wtap_encap"):add(encap, p_ringfs)
p_ringfs_tcp:register_heuristic("tcp", heuristic)
