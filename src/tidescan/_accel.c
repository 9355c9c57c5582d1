/* tidescan._accel: the optional C kernel for masscan's IPv4 cookie (SipHash-2-4).
 *
 * Why this exists: in pure NumPy the IPv4 cookie is ~250 whole-array passes and ~85-100 ns per
 * probe, about 45 % of a probe's generation cost (src/tidescan/siphash_seq.py, docs/benchmarks.md).
 * In C one lane is ~140 register operations and no memory traffic.  The module is optional, like
 * aioquic's _buffer.c: setup.py builds it with `optional=True`, and tidescan.siphash_seq falls back
 * to the NumPy path when it is missing or when TIDESCAN_PURE_PYTHON=1 is set.  Results are the same
 * bit for bit (tests/test_accel.py).
 *
 * Semantics (exactly tidescan.siphash.cookie4): key = entropy twice (k0 = k1 = entropy), message
 * = two little-endian 64-bit words m0 = ip_them | port_them << 32 and m1 = ip_me | port_me << 32
 * (each value's low 32 bits), then the length block 16 << 56.  seq4() stores the low 32 bits
 * (a TCP sequence number), cookie4() the whole 64-bit value.
 *
 * Arguments come through the buffer protocol (no NumPy C API): each of the four tuple columns is
 * either an integer (a constant for every lane; the common case for ip_me/port_me) or a 1-D,
 * C-contiguous, native-endian buffer of unsigned integers (itemsize 1, 2, 4 or 8).  `out` is a
 * writable 1-D contiguous buffer of uint32 (seq4) or uint64 (cookie4); every array argument must
 * have out's length.  Signed buffers are refused: the Python wrapper checks signs and views them
 * as unsigned.  The hash loop runs with the GIL released, on blocks of BLOCK lanes that stay in
 * L1 (columns widened into uint64 message words first, so the hash loop itself is branch-free and
 * the compiler can vectorize it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 512

#define C0 UINT64_C(0x736F6D6570736575)
#define C1 UINT64_C(0x646F72616E646F6D)
#define C2 UINT64_C(0x6C7967656E657261)
#define C3 UINT64_C(0x7465646279746573)
#define LEN_BLOCK (UINT64_C(16) << 56)

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                  \
    do {                                                                                          \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                                 \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                    \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                    \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                                 \
    } while (0)

/* Function multiversioning (GCC/clang on x86-64 glibc): the same loop compiled for AVX-512,
 * AVX2 and the baseline, chosen once at load time by the CPU.  Elsewhere: the plain loop. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(TIDESCAN_NO_CLONES)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

/* h[i] = SipHash-2-4(key = k || k, m0[i] || m1[i]), i < n. */
MULTIVERSION
static void hash_block(const uint64_t *restrict m0, const uint64_t *restrict m1,
                       uint64_t *restrict h, Py_ssize_t n, uint64_t k)
{
    const uint64_t i0 = k ^ C0, i1 = k ^ C1, i2 = k ^ C2, i3 = k ^ C3;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t v0 = i0, v1 = i1, v2 = i2, v3 = i3 ^ m0[i];
        SIPROUND; SIPROUND;
        v0 ^= m0[i];
        v3 ^= m1[i];
        SIPROUND; SIPROUND;
        v0 ^= m1[i];
        v3 ^= LEN_BLOCK;
        SIPROUND; SIPROUND;
        v0 ^= LEN_BLOCK;
        v2 ^= 0xFF;
        SIPROUND; SIPROUND; SIPROUND; SIPROUND;
        h[i] = v0 ^ v1 ^ v2 ^ v3;
    }
}

/* One tuple column: a constant, or a held 1-D buffer of unsigned integers. */
typedef struct {
    Py_buffer view;
    int held;               /* view must be released */
    int itemsize;           /* 0: constant */
    uint32_t value;         /* the constant's low 32 bits */
} Column;

static const char *const NAMES[4] = {"ip_them", "port_them", "ip_me", "port_me"};

/* The format character of a native-endian buffer, or 0 if it carries a non-native byte order. */
static char
format_char(const Py_buffer *v)
{
    const char *f = v->format ? v->format : "B";
    if (f[0] == '@' || f[0] == '=')
        f++;
#if PY_BIG_ENDIAN
    else if (f[0] == '>' || f[0] == '!')
        f++;
#else
    else if (f[0] == '<')
        f++;
#endif
    if (f[0] == 0 || f[1] != 0)
        return 0;
    return f[0];
}

static int
is_unsigned_format(char c, Py_ssize_t itemsize)
{
    switch (c) {
    case 'B': return itemsize == 1;
    case 'H': return itemsize == 2;
    case 'I': case 'L': case 'Q': case 'N': return itemsize == 4 || itemsize == 8;
    default: return 0;
    }
}

/* A 1-D contiguous native buffer with the given element test; raises TypeError/ValueError. */
static int
get_vector(PyObject *obj, Py_buffer *view, int writable, const char *name)
{
    int flags = PyBUF_FORMAT | PyBUF_STRIDES | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s: expected %s buffer of integers, got %.100s", name,
                         writable ? "a writable" : "a", Py_TYPE(obj)->tp_name);
        }
        return -1;
    }
    if (view->ndim != 1) {
        PyErr_Format(PyExc_ValueError, "%s: expected a 1-D buffer, got %d dimensions", name,
                     view->ndim);
    } else if (!PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s: the buffer must be contiguous", name);
    } else {
        return 0;
    }
    PyBuffer_Release(view);
    return -1;
}

/* Fills `col` from an integer (a constant) or a 1-D unsigned integer buffer. */
static int
get_column(PyObject *obj, Column *col, const char *name)
{
    memset(col, 0, sizeof(*col));
    if (!PyObject_CheckBuffer(obj)) {
        if (!PyIndex_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "%s: expected an integer or a buffer of unsigned "
                         "integers, got %.100s", name, Py_TYPE(obj)->tp_name);
            return -1;
        }
        PyObject *i = PyNumber_Index(obj);
        if (i == NULL)
            return -1;
        PyObject *zero = PyLong_FromLong(0);
        int neg = zero ? PyObject_RichCompareBool(i, zero, Py_LT) : -1;
        Py_XDECREF(zero);
        if (neg == 0)
            col->value = (uint32_t)PyLong_AsUnsignedLongLongMask(i);
        Py_DECREF(i);
        if (neg > 0)
            PyErr_Format(PyExc_ValueError, "%s: negative value where an address or port was "
                         "expected", name);
        return (neg == 0 && !PyErr_Occurred()) ? 0 : -1;
    }
    if (get_vector(obj, &col->view, 0, name) < 0)
        return -1;
    col->held = 1;
    char c = format_char(&col->view);
    if (!is_unsigned_format(c, col->view.itemsize)) {
        PyErr_Format(PyExc_TypeError, "%s: expected native unsigned integers (format B, H, I, L "
                     "or Q), got format '%s' (signed or non-integer values are refused; "
                     "siphash_seq.seq4_array converts checked signed arrays)", name,
                     col->view.format ? col->view.format : "B");
        return -1;
    }
    col->itemsize = (int)col->view.itemsize;
    return 0;
}

/* dst[i] = low 32 bits of column element lo + i, i < n. */
static void
load_column(const Column *col, Py_ssize_t lo, Py_ssize_t n, uint32_t *restrict dst)
{
    Py_ssize_t i;
    switch (col->itemsize) {
    case 0:
        for (i = 0; i < n; i++)
            dst[i] = col->value;
        break;
    case 1: {
        const uint8_t *p = (const uint8_t *)col->view.buf + lo;
        for (i = 0; i < n; i++)
            dst[i] = p[i];
        break;
    }
    case 2: {
        const uint16_t *p = (const uint16_t *)col->view.buf + lo;
        for (i = 0; i < n; i++)
            dst[i] = p[i];
        break;
    }
    case 4:
        memcpy(dst, (const uint32_t *)col->view.buf + lo, (size_t)n * 4);
        break;
    default: {
        const uint64_t *p = (const uint64_t *)col->view.buf + lo;
        for (i = 0; i < n; i++)
            dst[i] = (uint32_t)p[i];
        break;
    }
    }
}

static void
make_words(const uint32_t *restrict lo, const uint32_t *restrict hi, uint64_t *restrict w,
           Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        w[i] = (uint64_t)lo[i] | ((uint64_t)hi[i] << 32);
}

/* The whole computation, GIL released by the caller: n lanes into out (uint32 or uint64). */
static void
run(const Column cols[4], uint64_t k, void *out, int wide, Py_ssize_t n)
{
    uint32_t a[BLOCK], b[BLOCK];
    uint64_t m0[BLOCK], m1[BLOCK], h[BLOCK];
    int m1_const = cols[2].itemsize == 0 && cols[3].itemsize == 0;
    if (m1_const) {
        uint64_t w = (uint64_t)cols[2].value | ((uint64_t)cols[3].value << 32);
        for (Py_ssize_t i = 0; i < BLOCK; i++)
            m1[i] = w;
    }
    for (Py_ssize_t lo = 0; lo < n; lo += BLOCK) {
        Py_ssize_t cnt = n - lo < BLOCK ? n - lo : BLOCK;
        load_column(&cols[0], lo, cnt, a);
        load_column(&cols[1], lo, cnt, b);
        make_words(a, b, m0, cnt);
        if (!m1_const) {
            load_column(&cols[2], lo, cnt, a);
            load_column(&cols[3], lo, cnt, b);
            make_words(a, b, m1, cnt);
        }
        if (wide) {
            hash_block(m0, m1, (uint64_t *)out + lo, cnt, k);
        } else {
            uint32_t *o = (uint32_t *)out + lo;
            hash_block(m0, m1, h, cnt, k);
            for (Py_ssize_t i = 0; i < cnt; i++)
                o[i] = (uint32_t)h[i];
        }
    }
}

/* seq4/cookie4(ip_them, port_them, ip_me, port_me, entropy, out, /) */
static PyObject *
cookie_common(PyObject *const *args, Py_ssize_t nargs, int wide)
{
    const char *fname = wide ? "cookie4" : "seq4";
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "%s() takes 6 positional arguments (ip_them, port_them, "
                     "ip_me, port_me, entropy, out), got %zd", fname, nargs);
        return NULL;
    }
    if (!PyLong_Check(args[4]) && !PyIndex_Check(args[4])) {
        PyErr_Format(PyExc_TypeError, "%s: entropy must be an integer, got %.100s", fname,
                     Py_TYPE(args[4])->tp_name);
        return NULL;
    }
    PyObject *ent = PyNumber_Index(args[4]);
    if (ent == NULL)
        return NULL;
    uint64_t k = (uint64_t)PyLong_AsUnsignedLongLongMask(ent);  /* modulo 2**64, as cookie4 */
    Py_DECREF(ent);
    if (PyErr_Occurred())
        return NULL;

    Column cols[4];
    Py_buffer outv;
    int ncols = 0, have_out = 0;
    PyObject *result = NULL;
    for (; ncols < 4; ncols++) {
        if (get_column(args[ncols], &cols[ncols], NAMES[ncols]) < 0) {
            ncols++;  /* release it too (get_column leaves `held` right) */
            goto done;
        }
    }
    if (get_vector(args[5], &outv, 1, "out") < 0)
        goto done;
    have_out = 1;
    Py_ssize_t want = wide ? 8 : 4;
    char oc = format_char(&outv);
    if (!is_unsigned_format(oc, outv.itemsize) || outv.itemsize != want) {
        PyErr_Format(PyExc_TypeError, "out: expected a native uint%d buffer, got format '%s' "
                     "with itemsize %zd", wide ? 64 : 32, outv.format ? outv.format : "B",
                     outv.itemsize);
        goto done;
    }
    Py_ssize_t n = outv.shape[0];
    for (int i = 0; i < 4; i++) {
        if (cols[i].itemsize && cols[i].view.shape[0] != n) {
            PyErr_Format(PyExc_ValueError, "%s has %zd elements but out has %zd: every array "
                         "argument must have out's length", NAMES[i], cols[i].view.shape[0], n);
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    run(cols, k, outv.buf, wide, n);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < ncols; i++)
        if (cols[i].held)
            PyBuffer_Release(&cols[i].view);
    if (have_out)
        PyBuffer_Release(&outv);
    return result;
}

static PyObject *
accel_seq4(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return cookie_common(args, nargs, 0);
}

static PyObject *
accel_cookie4(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return cookie_common(args, nargs, 1);
}

static PyMethodDef methods[] = {
    {"seq4", (PyCFunction)(void (*)(void))accel_seq4, METH_FASTCALL,
     "seq4(ip_them, port_them, ip_me, port_me, entropy, out, /) -> None\n\n"
     "Low 32 bits of masscan's IPv4 SipHash-2-4 cookie into `out` (a uint32 buffer).  Each of\n"
     "the four columns is an int or a 1-D contiguous unsigned buffer of out's length."},
    {"cookie4", (PyCFunction)(void (*)(void))accel_cookie4, METH_FASTCALL,
     "cookie4(ip_them, port_them, ip_me, port_me, entropy, out, /) -> None\n\n"
     "masscan's full 64-bit IPv4 cookie into `out` (a uint64 buffer); columns as seq4."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tidescan._accel",
    "Optional C kernel for masscan's IPv4 SipHash-2-4 cookie (see tidescan.siphash_seq).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__accel(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "BLOCK", BLOCK) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
