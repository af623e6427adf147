# goro's gdb commands: the goroutines of a live process or of a core file,
# as Go's runtime-gdb.py shows Go's.
#
#   (gdb) source /usr/local/share/goro/gdb/goro-gdb.py   # installed here
#   (gdb) info goroutines          # every goroutine: id, state, wait reason, labels, creation site
#   (gdb) goroutine 7 bt           # any gdb command, run in goroutine 7's frames
#   (gdb) goroutine 7 frame 3
#   (gdb) goroutine all bt
#
# What it reads (names the C++ side keeps for it): the g records in
# goro::detail::all_g_slabs (sched/spawn.cpp), each one's status, wait
# reason (its words from goro::detail::kWaitReasonNames), id, creation
# site, and the registers its last goro_fiber_switch saved on its stack
# (fiber/switch_x86_64.S: r15, r14, r13, r12, rbx, rbp, then the return
# address, at ctx.sp). A parked or queued goroutine's frames are unwound
# from those registers: in a live process by loading them into the
# selected thread for the command and restoring them after; in a core
# file, where gdb cannot write registers, by an unwinder that makes the
# goroutine's frames the callers of the selected thread's frame #0 (so
# there #0 is that thread's frame, and the goroutine's start at #1). A
# running goroutine's frames are its thread's: the command runs in that
# thread. x86-64 only (the switch frame of aarch64 differs).
#
# Nothing here runs code in the inferior: it works on a core file, and on
# a process stopped anywhere, even inside the scheduler (a record read
# while it changes shows the state gdb stopped it in).
import gdb

try:
    from gdb.unwinder import Unwinder, register_unwinder
except ImportError:  # a gdb without the unwinder API: no backtraces in core files
    Unwinder = object
    register_unwinder = None

_STATES = {1: "runnable", 2: "running", 3: "waiting"}
# The switch frame: offsets from the saved sp (fiber/switch_x86_64.S).
_SWITCH_REGS = (("r15", 0), ("r14", 8), ("r13", 16), ("r12", 24), ("rbx", 32), ("rbp", 40))
_SWITCH_RET = 48
_SWITCH_SIZE = 56


def _atomic_value(v):
    """The value inside a std::atomic (libstdc++ keeps it in _M_i)."""
    try:
        return v["_M_i"]
    except gdb.error:
        return v


def _global(name):
    """The value of a global variable of the program, or None."""
    sym = gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
    if sym is not None:
        return sym.value()
    try:
        return gdb.parse_and_eval("'%s'" % name)
    except gdb.error:
        return None


def _goroutines():
    """Every live goroutine's g record (gdb.Value of goro::detail::g), by id."""
    slabs = _global("goro::detail::all_g_slabs")
    if slabs is None:
        raise gdb.GdbError("goro-gdb: no goro::detail::all_g_slabs here: a program not linked with goro, "
                           "or a libgoro without debug information")
    n = int(slabs["nslabs"])
    per = int(slabs["per_slab"])
    out = []
    for i in range(n):
        slab = slabs["slabs"][i]
        for j in range(per):
            g = slab[j]
            status = int(_atomic_value(g["status"]))
            if status not in _STATES or bool(g["is_thread"]):
                continue
            out.append(g)
    out.sort(key=lambda g: int(g["id"]))
    return out


def _find(goid):
    for g in _goroutines():
        if int(g["id"]) == goid:
            return g
    raise gdb.GdbError("goro-gdb: no goroutine %d" % goid)


def _wait_reason(g):
    r = int(g["reason"])
    names = _global("goro::detail::kWaitReasonNames")
    try:
        return names[r].string()
    except (gdb.error, TypeError):
        return "reason %d" % r


def _state(g):
    status = int(_atomic_value(g["status"]))
    s = _STATES[status]
    if status == 3:
        s = _wait_reason(g)
    return s


def _std_string(v):
    """A libstdc++ std::string's text."""
    return v["_M_dataplus"]["_M_p"].string(length=int(v["_M_string_length"]))


def _labels(g):
    """Goroutine g's labels (goro/labels.hpp) as the dump prints them, or ''."""
    s = g["labels"]
    if int(s) == 0:
        return ""
    try:
        impl = s.dereference()["kv"]["_M_impl"]
        first, last = impl["_M_start"], impl["_M_finish"]
        n = int(last - first)
        pairs = []
        for i in range(n):
            kv = (first + i).dereference()
            pairs.append('"%s":"%s"' % (_std_string(kv["first"]), _std_string(kv["second"])))
        return "{" + ", ".join(pairs) + "}"
    except gdb.error:
        return "{?}"


def _where(pc):
    """'file:line in function' of the call that returns to pc."""
    if pc == 0:
        return "?"
    call = pc - 1
    sal = gdb.find_pc_line(call)
    fn = None
    try:
        block = gdb.block_for_pc(call)
        while block is not None and block.function is None:
            block = block.superblock
        if block is not None:
            fn = block.function.print_name
    except RuntimeError:
        pass
    loc = "%s:%d" % (sal.symtab.filename, sal.line) if sal.symtab is not None else "??"
    return "%s in %s" % (loc, fn) if fn else loc


def _running_thread(g):
    """The gdb thread running goroutine g, or None."""
    m = g["cur_m"]
    if int(m) == 0:
        return None
    tid = int(m["tid"])
    for t in gdb.selected_inferior().threads():
        if t.ptid[1] == tid:
            return t
    return None


def _saved_registers(g):
    """The registers goroutine g's last switch saved: {name: int}, or None
    when it has none (never ran: no stack yet)."""
    sp = int(g["ctx"]["sp"])
    if sp == 0 or int(g["stack_lo"]) == 0:
        return None
    words = gdb.parse_and_eval("(unsigned long*)%d" % sp)
    regs = {name: int(words[off // 8]) for name, off in _SWITCH_REGS}
    regs["rip"] = int(words[_SWITCH_RET // 8])
    regs["rsp"] = sp + _SWITCH_SIZE
    return regs


class _FrameId(object):
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _GoroutineUnwinder(Unwinder):
    """In a core file: the selected thread's frame #0 unwinds into the
    goroutine's frames while a `goroutine N cmd` runs."""

    def __init__(self):
        super(_GoroutineUnwinder, self).__init__("goro goroutine frames")
        self.regs = None

    def __call__(self, pending_frame):
        if self.regs is None or pending_frame.level() != 0:
            return None
        frame_id = _FrameId(pending_frame.read_register("rsp"), pending_frame.read_register("rip"))
        info = pending_frame.create_unwind_info(frame_id)
        ulong = gdb.lookup_type("unsigned long")
        for name, value in self.regs.items():
            info.add_saved_register(name, gdb.Value(value).cast(ulong))
        return info


_unwinder = _GoroutineUnwinder() if register_unwinder is not None else None
if _unwinder is not None:
    register_unwinder(None, _unwinder, replace=True)


def _select_level(level):
    """Selects the frame `level` frames out from the newest (as far as it goes)."""
    frame = gdb.newest_frame()
    for _ in range(level):
        older = frame.older()
        if older is None:
            break
        frame = older
    frame.select()


def _run_in_registers(regs, cmd):
    """Runs cmd with the selected thread's registers set to regs, then
    puts them back; in a core file (no register writes) through the
    unwinder instead.

    Registers are read and written with frame #0 selected: in an outer
    frame, `set $rsp` writes that frame's saved-register slot on the stack,
    which corrupts the live process (Go's runtime-gdb.py selects frame 0
    for the same reason). The frame the user had selected is selected
    again afterwards."""
    names = list(regs.keys())
    saved = {}
    try:
        user_level = gdb.selected_frame().level()
    except gdb.error:
        user_level = 0
    try:
        gdb.newest_frame().select()
        for name in names:
            saved[name] = int(gdb.parse_and_eval("$" + name))
        for name in names:
            gdb.execute("set $%s = %d" % (name, regs[name]), to_string=True)
    except gdb.error:
        # No process (a core file): put back whatever was set, use the unwinder.
        _put_back(saved)
        if _unwinder is None:
            raise gdb.GdbError("goro-gdb: this gdb cannot unwind a goroutine in a core file (no unwinder API)")
        print("(a core file: frame #0 is the selected thread's own; the goroutine's frames start at #1)")
        _unwinder.regs = regs
        gdb.invalidate_cached_frames()
        try:
            gdb.execute(cmd)
        finally:
            _unwinder.regs = None
            gdb.invalidate_cached_frames()
            _select_level(user_level)
        return
    try:
        gdb.execute(cmd)
    finally:
        # cmd may have selected another frame (`frame 3`): back to #0 first.
        failed = _put_back(saved)
        _select_level(user_level)
        if failed:
            raise gdb.GdbError("goro-gdb: could not restore registers %s; do not continue this process"
                               % ", ".join(failed))


def _put_back(saved):
    """Writes every saved register back from frame #0, even past a failure;
    returns the names that could not be written."""
    failed = []
    try:
        gdb.newest_frame().select()
    except gdb.error:
        pass
    for name, value in saved.items():
        try:
            gdb.execute("set $%s = %d" % (name, value), to_string=True)
        except gdb.error:
            failed.append(name)
    return failed


def _run_in_goroutine(g, cmd):
    status = int(_atomic_value(g["status"]))
    if status == 2:
        thread = _running_thread(g)
        if thread is None:
            print("goroutine %d is running, on no thread gdb knows" % int(g["id"]))
            return
        before = gdb.selected_thread()
        thread.switch()
        try:
            gdb.execute(cmd)
        finally:
            before.switch()
        return
    regs = _saved_registers(g)
    if regs is None:
        print("goroutine %d has not run yet: no frames" % int(g["id"]))
        return
    _run_in_registers(regs, cmd)


class InfoGoroutines(gdb.Command):
    """Every goroutine: id, state (its wait reason if parked), labels, creation site.

    `*` marks the goroutine running on the selected thread."""

    def __init__(self):
        super(InfoGoroutines, self).__init__("info goroutines", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        if gdb.selected_inferior().pid == 0 and not gdb.selected_inferior().threads():
            raise gdb.GdbError("goro-gdb: no process or core file")
        selected = gdb.selected_thread()
        for g in _goroutines():
            mark = " "
            if int(_atomic_value(g["status"])) == 2:
                t = _running_thread(g)
                if t is not None and selected is not None and t.ptid == selected.ptid:
                    mark = "*"
            if bool(g["is_main"]):
                creator = "created by goro::run"
            elif int(g["parent_id"]) != 0:
                creator = "created by goroutine %d" % int(g["parent_id"])
            elif bool(g["by_timer"]):
                creator = "created by goro::after_func"
            else:
                creator = "created by a plain thread"
            labels = _labels(g)
            print("%s goroutine %d [%s]%s %s at %s" % (mark, int(g["id"]), _state(g),
                                                       " labels: " + labels if labels else "", creator,
                                                       _where(int(g["created_pc"]))))


class GoroutineCommand(gdb.Command):
    """goroutine ID|all CMD: run a gdb command in a goroutine's frames.

    goroutine 7 bt
    goroutine all bt
    goroutine 7 info frame"""

    def __init__(self):
        super(GoroutineCommand, self).__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) != 2:
            raise gdb.GdbError("usage: goroutine ID|all COMMAND")
        which, cmd = parts
        if which == "all":
            for g in _goroutines():
                print("\ngoroutine %d [%s]:" % (int(g["id"]), _state(g)))
                _run_in_goroutine(g, cmd)
            return
        try:
            goid = int(which)
        except ValueError:
            raise gdb.GdbError("goro-gdb: %r is not a goroutine id" % which)
        _run_in_goroutine(_find(goid), cmd)


InfoGoroutines()
GoroutineCommand()
