/* Getters for the C macros Swift cannot import; see include/CChronoShims.h. */
#define _GNU_SOURCE 1 /* fallocate */
#include "CChronoShims.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <string.h>
#include <stdio.h>

#include <sys/prctl.h>
#include <malloc.h>
#include <signal.h>

/* ---- process ---- */
int chrono_set_timer_slack(unsigned long nanoseconds) { return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0); }
int chrono_keep_large_allocations(int mmap_threshold, int trim_threshold) {
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold);
}

/* ---- MPI ---- */
MPI_Comm chrono_mpi_comm_world(void) { return MPI_COMM_WORLD; }
MPI_Comm chrono_mpi_comm_self(void) { return MPI_COMM_SELF; }
MPI_Comm chrono_mpi_comm_null(void) { return MPI_COMM_NULL; }
MPI_Datatype chrono_mpi_byte(void) { return MPI_BYTE; }
MPI_Datatype chrono_mpi_int(void) { return MPI_INT; }
MPI_Datatype chrono_mpi_int64(void) { return MPI_INT64_T; }
MPI_Datatype chrono_mpi_uint64(void) { return MPI_UINT64_T; }
MPI_Datatype chrono_mpi_double(void) { return MPI_DOUBLE; }
MPI_Op chrono_mpi_op_sum(void) { return MPI_SUM; }
MPI_Op chrono_mpi_op_max(void) { return MPI_MAX; }
MPI_Op chrono_mpi_op_min(void) { return MPI_MIN; }
MPI_Errhandler chrono_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
MPI_Request chrono_mpi_request_null(void) { return MPI_REQUEST_NULL; }
MPI_Info chrono_mpi_info_null(void) { return MPI_INFO_NULL; }
MPI_Message chrono_mpi_message_null(void) { return MPI_MESSAGE_NULL; }
MPI_Message chrono_mpi_message_no_proc(void) { return MPI_MESSAGE_NO_PROC; }
MPI_Status *chrono_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
void *chrono_mpi_in_place(void) { return MPI_IN_PLACE; }
int chrono_mpi_any_source(void) { return MPI_ANY_SOURCE; }
int chrono_mpi_any_tag(void) { return MPI_ANY_TAG; }
int chrono_mpi_undefined(void) { return MPI_UNDEFINED; }
int chrono_mpi_proc_null(void) { return MPI_PROC_NULL; }
int chrono_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
int chrono_mpi_appnum_keyval(void) { return MPI_APPNUM; }
int chrono_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
int chrono_mpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
int chrono_mpi_max_port_name(void) { return MPI_MAX_PORT_NAME; }
int chrono_mpi_thread_single(void) { return MPI_THREAD_SINGLE; }
int chrono_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
int chrono_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
int chrono_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
int chrono_mpi_success(void) { return MPI_SUCCESS; }
int chrono_mpi_status_source(const MPI_Status *s) { return s->MPI_SOURCE; }
int chrono_mpi_status_tag(const MPI_Status *s) { return s->MPI_TAG; }
int chrono_mpi_status_error(const MPI_Status *s) { return s->MPI_ERROR; }

/* MPI_Finalize deletes MPI_COMM_SELF's attributes before anything else, the last set first
 * (MPI-4.0 §11.2.4), with MPI still fully usable: the standard hook for a library to leave before
 * MPI ends. Each action is the value of an attribute of its own. */
static int chrono_self_attribute_deleted(MPI_Comm comm, int keyval, void *value, void *extra) {
    (void)comm; (void)extra;
    void (*action)(void) = (void (*)(void))value;
    if (action) action();
    MPI_Comm_free_keyval(&keyval);
    return MPI_SUCCESS;
}
int chrono_mpi_call_before_finalize(void (*action)(void)) {
    int keyval = MPI_KEYVAL_INVALID;
    int rc = MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, chrono_self_attribute_deleted, &keyval, NULL);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Comm_set_attr(MPI_COMM_SELF, keyval, (void *)action);
}

/* ---- SIGTERM for a library's process (libchronolog's joined ranks) ---- */
static int g_sigterm_fd = -1;
static void chrono_sigterm_to_fd(int sig) {
    (void)sig;
    char byte = 1;
    if (g_sigterm_fd >= 0) (void)!write(g_sigterm_fd, &byte, 1);
}
int chrono_sigterm_to_pipe(int fd) {
    struct sigaction old;
    if (sigaction(SIGTERM, NULL, &old) != 0) return -1;
    if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) return 0;
    g_sigterm_fd = fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = chrono_sigterm_to_fd;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(SIGTERM, &sa, NULL) == 0 ? 1 : -1;
}
void chrono_sigterm_pipe_uninstall(void) {
    struct sigaction now;
    if (sigaction(SIGTERM, NULL, &now) == 0 && now.sa_handler == chrono_sigterm_to_fd) signal(SIGTERM, SIG_DFL);
}
int chrono_sigterm_is_default(void) {
    struct sigaction old;
    return sigaction(SIGTERM, NULL, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO);
}
void chrono_sigterm_sigint_default(void) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
}
void chrono_die_of_sigterm(void) {
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
}

/* ---- HDF5 ---- */
hid_t chrono_h5p_default(void) { return H5P_DEFAULT; }
hid_t chrono_h5p_file_access(void) { return H5P_FILE_ACCESS; }
hid_t chrono_h5p_file_create(void) { return H5P_FILE_CREATE; }
hid_t chrono_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
hid_t chrono_h5p_dataset_xfer(void) { return H5P_DATASET_XFER; }
hid_t chrono_h5p_dataset_access(void) { return H5P_DATASET_ACCESS; }
hid_t chrono_h5p_group_create(void) { return H5P_GROUP_CREATE; }
hid_t chrono_h5p_link_create(void) { return H5P_LINK_CREATE; }
hid_t chrono_h5s_all(void) { return H5S_ALL; }
hid_t chrono_h5e_default(void) { return H5E_DEFAULT; }
hsize_t chrono_h5s_unlimited(void) { return H5S_UNLIMITED; }
unsigned chrono_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
unsigned chrono_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
unsigned chrono_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
unsigned chrono_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
hid_t chrono_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
hid_t chrono_h5t_native_uint32(void) { return H5T_NATIVE_UINT32; }
hid_t chrono_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }
hid_t chrono_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
hid_t chrono_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
hid_t chrono_h5t_std_u8le(void) { return H5T_STD_U8LE; }
hid_t chrono_h5t_std_u32le(void) { return H5T_STD_U32LE; }
hid_t chrono_h5t_std_u64le(void) { return H5T_STD_U64LE; }
hid_t chrono_h5t_std_i64le(void) { return H5T_STD_I64LE; }
hid_t chrono_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
hid_t chrono_h5t_c_s1(void) { return H5T_C_S1; }
herr_t chrono_h5p_set_fapl_mpio(hid_t fapl, MPI_Comm comm) {
    return H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
}
herr_t chrono_h5p_set_metadata_writes_at_flush(hid_t fapl) {
    H5AC_cache_config_t config;
    config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Pget_mdc_config(fapl, &config) < 0) return -1;
    config.dirty_bytes_threshold = 32 << 20;
    return H5Pset_mdc_config(fapl, &config);
}
herr_t chrono_h5p_set_dxpl_mpio(hid_t dxpl, int collective) {
    return H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
}
herr_t chrono_h5e_silence(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct { char *buf; size_t cap; size_t len; } chrono_h5e_sink;

static herr_t chrono_h5e_walk(unsigned n, const H5E_error2_t *e, void *data) {
    chrono_h5e_sink *sink = (chrono_h5e_sink *)data;
    if (sink->len + 1 >= sink->cap) return 0;
    char maj[128] = "", min[128] = "";
    H5Eget_msg(e->maj_num, NULL, maj, sizeof maj);
    H5Eget_msg(e->min_num, NULL, min, sizeof min);
    int w = snprintf(sink->buf + sink->len, sink->cap - sink->len, "%s#%u %s(): %s [%s: %s]",
                     sink->len ? "; " : "", n, e->func_name ? e->func_name : "?",
                     e->desc ? e->desc : "", maj, min);
    if (w > 0) {
        size_t added = (size_t)w;
        sink->len = (sink->len + added < sink->cap) ? sink->len + added : sink->cap - 1;
    }
    return 0;
}

size_t chrono_h5e_describe(char *buf, size_t cap) {
    if (cap == 0) return 0;
    buf[0] = 0;
    chrono_h5e_sink sink = { buf, cap, 0 };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, chrono_h5e_walk, &sink);
    H5Eclear2(H5E_DEFAULT);
    return sink.len;
}
int chrono_reserve_file_space(const char *path, int64_t bytes, int64_t *file_size, int64_t *available) {
    *file_size = -1;
    *available = -1;
    struct statvfs vfs;
    if (statvfs(path, &vfs) == 0) *available = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = errno;
    } else {
        *file_size = (int64_t)st.st_size;
        if (bytes > 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, bytes) != 0) {
            rc = errno;
            if (rc == EOPNOTSUPP || rc == ENOSYS) rc = (*available >= 0 && *available < bytes) ? ENOSPC : 0;
        }
    }
    close(fd);
    return rc;
}
int chrono_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : errno;
}
int chrono_release_file_space(const char *path, int64_t bytes) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) rc = errno;
    else if (bytes > 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size, bytes) != 0) rc = errno;
    close(fd);
    return rc;
}
int chrono_drop_cached_pages(const char *path, int64_t keep_last, int64_t *dropped) {
    *dropped = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = errno;
    } else if (st.st_size > keep_last) {
        rc = posix_fadvise(fd, 0, st.st_size - keep_last, POSIX_FADV_DONTNEED);
        if (rc == 0) *dropped = (int64_t)st.st_size - keep_last;
    }
    close(fd);
    return rc;
}
size_t chrono_h5t_variable(void) { return H5T_VARIABLE; }
int64_t chrono_h5a_count(hid_t obj) {
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
    return (int64_t)info.num_attrs;
}

/* ---- libfabric ---- */
uint32_t chrono_fi_version(void) { return FI_VERSION(1, 9); }
uint64_t chrono_fi_cap_rma(void) { return FI_RMA; }
uint64_t chrono_fi_cap_msg(void) { return FI_MSG; }
uint64_t chrono_fi_cap_read(void) { return FI_READ; }
uint64_t chrono_fi_cap_write(void) { return FI_WRITE; }
uint64_t chrono_fi_cap_remote_read(void) { return FI_REMOTE_READ; }
uint64_t chrono_fi_cap_remote_write(void) { return FI_REMOTE_WRITE; }
int chrono_fi_mr_local(void) { return FI_MR_LOCAL; }
int chrono_fi_mr_virt_addr(void) { return FI_MR_VIRT_ADDR; }
int chrono_fi_mr_allocated(void) { return FI_MR_ALLOCATED; }
int chrono_fi_mr_prov_key(void) { return FI_MR_PROV_KEY; }
int chrono_fi_mr_endpoint(void) { return FI_MR_ENDPOINT; }
int chrono_fi_mr_raw(void) { return FI_MR_RAW; }
int chrono_fi_eagain(void) { return FI_EAGAIN; }
int chrono_fi_eavail(void) { return FI_EAVAIL; }

int chrono_fi_getinfo_rdm(const char *provider, int mr_mode_bits, struct fi_info **out) {
    struct fi_info *hints = fi_allocinfo();
    if (!hints) return -FI_ENOMEM;
    hints->caps = FI_RMA | FI_MSG | FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE;
    hints->ep_attr->type = FI_EP_RDM;
    hints->domain_attr->mr_mode = mr_mode_bits;
    hints->domain_attr->threading = FI_THREAD_DOMAIN;
    hints->mode = FI_CONTEXT;
    if (provider && provider[0]) hints->fabric_attr->prov_name = strdup(provider);
    int rc = fi_getinfo(FI_VERSION(1, 9), NULL, NULL, 0, hints, out);
    fi_freeinfo(hints);
    return rc;
}
const char *chrono_fi_info_provider(const struct fi_info *i) { return i->fabric_attr ? i->fabric_attr->prov_name : ""; }
const char *chrono_fi_info_fabric_name(const struct fi_info *i) { return i->fabric_attr ? i->fabric_attr->name : ""; }
const char *chrono_fi_info_domain_name(const struct fi_info *i) { return i->domain_attr ? i->domain_attr->name : ""; }
int chrono_fi_info_mr_mode(const struct fi_info *i) { return i->domain_attr ? i->domain_attr->mr_mode : 0; }
uint64_t chrono_fi_info_caps(const struct fi_info *i) { return i->caps; }
size_t chrono_fi_info_max_msg_size(const struct fi_info *i) { return i->ep_attr ? i->ep_attr->max_msg_size : 0; }
struct fi_info *chrono_fi_info_next(const struct fi_info *i) { return i->next; }
void chrono_fi_freeinfo(struct fi_info *i) { fi_freeinfo(i); }

int chrono_fi_fabric(struct fi_info *info, struct fid_fabric **fabric) { return fi_fabric(info->fabric_attr, fabric, NULL); }
int chrono_fi_domain(struct fid_fabric *fabric, struct fi_info *info, struct fid_domain **domain) { return fi_domain(fabric, info, domain, NULL); }
int chrono_fi_endpoint(struct fid_domain *domain, struct fi_info *info, struct fid_ep **ep) { return fi_endpoint(domain, info, ep, NULL); }
int chrono_fi_av_open_map(struct fid_domain *domain, size_t count, struct fid_av **av) {
    struct fi_av_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = FI_AV_MAP;
    attr.count = count;
    return fi_av_open(domain, &attr, av, NULL);
}
int chrono_fi_cq_open_data(struct fid_domain *domain, size_t size, struct fid_cq **cq) {
    struct fi_cq_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.format = FI_CQ_FORMAT_CONTEXT;
    attr.wait_obj = FI_WAIT_NONE;
    attr.size = size;
    return fi_cq_open(domain, &attr, cq, NULL);
}
int chrono_fi_ep_bind_av(struct fid_ep *ep, struct fid_av *av) { return fi_ep_bind(ep, &av->fid, 0); }
int chrono_fi_ep_bind_cq(struct fid_ep *ep, struct fid_cq *cq) { return fi_ep_bind(ep, &cq->fid, FI_TRANSMIT | FI_RECV); }
int chrono_fi_enable(struct fid_ep *ep) { return fi_enable(ep); }
int chrono_fi_getname(struct fid_ep *ep, void *addr, size_t *len) { return fi_getname(&ep->fid, addr, len); }
int chrono_fi_av_insert(struct fid_av *av, const void *addrs, size_t count, fi_addr_t *out) {
    return fi_av_insert(av, addrs, count, out, 0, NULL);
}
int chrono_fi_close(struct fid *f) { return fi_close(f); }
struct fid *chrono_fi_fid_fabric(struct fid_fabric *p) { return &p->fid; }
struct fid *chrono_fi_fid_domain(struct fid_domain *p) { return &p->fid; }
struct fid *chrono_fi_fid_ep(struct fid_ep *p) { return &p->fid; }
struct fid *chrono_fi_fid_av(struct fid_av *p) { return &p->fid; }
struct fid *chrono_fi_fid_cq(struct fid_cq *p) { return &p->fid; }
struct fid *chrono_fi_fid_mr(struct fid_mr *p) { return &p->fid; }

int chrono_fi_mr_reg(struct fid_domain *domain, void *buf, size_t len, uint64_t requested_key, struct fid_mr **mr) {
    return fi_mr_reg(domain, buf, len, FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE,
                     0, requested_key, 0, mr, NULL);
}
int chrono_fi_mr_reg_remote_read(struct fid_domain *domain, const void *buf, size_t len, uint64_t requested_key,
                                 struct fid_mr **mr) {
    return fi_mr_reg(domain, buf, len, FI_REMOTE_READ, 0, requested_key, 0, mr, NULL);
}
int chrono_fi_mr_bind_ep(struct fid_mr *mr, struct fid_ep *ep) { return fi_mr_bind(mr, &ep->fid, 0); }
int chrono_fi_mr_enable(struct fid_mr *mr) { return fi_mr_enable(mr); }
uint64_t chrono_fi_mr_key(struct fid_mr *mr) { return fi_mr_key(mr); }
void *chrono_fi_mr_desc(struct fid_mr *mr) { return fi_mr_desc(mr); }

ssize_t chrono_fi_read(struct fid_ep *ep, void *buf, size_t len, void *desc, fi_addr_t src, uint64_t addr, uint64_t key, void *context) {
    return fi_read(ep, buf, len, desc, src, addr, key, context);
}
ssize_t chrono_fi_write(struct fid_ep *ep, const void *buf, size_t len, void *desc, fi_addr_t dest, uint64_t addr, uint64_t key, void *context) {
    return fi_write(ep, buf, len, desc, dest, addr, key, context);
}
ssize_t chrono_fi_cq_read(struct fid_cq *cq, void **contexts, size_t max) {
    struct fi_cq_entry entries[16];
    if (max > 16) max = 16;
    ssize_t n = fi_cq_read(cq, entries, max);
    for (ssize_t k = 0; k < n; k++) contexts[k] = entries[k].op_context;
    return n;
}
ssize_t chrono_fi_cq_readerr(struct fid_cq *cq, int *err, int *prov_errno, void **context, char *msg, size_t cap) {
    struct fi_cq_err_entry e;
    memset(&e, 0, sizeof e);
    ssize_t rc = fi_cq_readerr(cq, &e, 0);
    if (rc < 0) return rc;
    *err = e.err;
    *prov_errno = e.prov_errno;
    *context = e.op_context;
    if (msg && cap) {
        const char *detail = fi_cq_strerror(cq, e.prov_errno, e.err_data, NULL, 0);
        snprintf(msg, cap, "%s (%s)", fi_strerror(e.err), detail ? detail : "");
    }
    return rc;
}
const char *chrono_fi_strerror(int err) { return fi_strerror(err); }

/* ---- libfabric: additions for the Fabric wrapper (Sources/Fabric) ---- */
int chrono_fi_enodata(void) { return FI_ENODATA; }
int chrono_fi_etoosmall(void) { return FI_ETOOSMALL; }
uint64_t chrono_fi_op_completion(void) { return FI_COMPLETION; }
uint64_t chrono_fi_op_delivery_complete(void) { return FI_DELIVERY_COMPLETE; }
uint64_t chrono_fi_mode_context(void) { return FI_CONTEXT; }
uint64_t chrono_fi_info_mode(const struct fi_info *i) { return i->mode; }
size_t chrono_fi_info_tx_size(const struct fi_info *i) { return i->tx_attr ? i->tx_attr->size : 0; }
size_t chrono_fi_info_mr_key_size(const struct fi_info *i) { return i->domain_attr ? i->domain_attr->mr_key_size : 0; }
size_t chrono_fi_info_addrlen(const struct fi_info *i) { return i->src_addrlen; }
struct fi_info *chrono_fi_dupinfo(const struct fi_info *i) {
    struct fi_info one = *i;
    one.next = NULL;
    return fi_dupinfo(&one);
}
/* One contiguous local buffer against one remote range: the message both RMA calls take. */
static void chrono_rma_msg(struct fi_msg_rma *msg, struct iovec *iov, struct fi_rma_iov *rma, void **desc,
                           fi_addr_t peer, void *context) {
    memset(msg, 0, sizeof *msg);
    msg->msg_iov = iov;
    msg->desc = desc;
    msg->iov_count = 1;
    msg->addr = peer;
    msg->rma_iov = rma;
    msg->rma_iov_count = 1;
    msg->context = context;
}
ssize_t chrono_fi_readmsg(struct fid_ep *ep, void *buf, size_t len, void *desc, fi_addr_t src, uint64_t addr, uint64_t key, void *context, uint64_t flags) {
    struct iovec iov = { buf, len };
    struct fi_rma_iov rma = { addr, len, key };
    struct fi_msg_rma msg;
    chrono_rma_msg(&msg, &iov, &rma, &desc, src, context);
    return fi_readmsg(ep, &msg, flags);
}
ssize_t chrono_fi_writemsg(struct fid_ep *ep, const void *buf, size_t len, void *desc, fi_addr_t dest, uint64_t addr, uint64_t key, void *context, uint64_t flags) {
    struct iovec iov = { (void *)buf, len };
    struct fi_rma_iov rma = { addr, len, key };
    struct fi_msg_rma msg;
    chrono_rma_msg(&msg, &iov, &rma, &desc, dest, context);
    return fi_writemsg(ep, &msg, flags);
}
