/*
 * CChronoShims: one prefixed getter for each C macro that Swift cannot import.
 *
 * OpenMPI's handles (MPI_COMM_WORLD, MPI_BYTE, ...) are macros over the addresses of
 * global objects; HDF5's property-list classes and native types are macros that call
 * H5open() first; libfabric's FI_VERSION and the fi_* operation wrappers are macros or
 * inline functions over ops tables.  Only the Swift wrapper modules (MPI, Fabric, HDF5)
 * import this header.
 */
#ifndef CCHRONOSHIMS_H
#define CCHRONOSHIMS_H

#include <mpi.h>
#include <hdf5.h>
#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_errno.h>
#include <stdint.h>
#include <stddef.h>

/* ---- process ---- */
/* Sets this thread's timer slack (prctl PR_SET_TIMERSLACK; variadic, so Swift cannot call it). */
int chrono_set_timer_slack(unsigned long nanoseconds);
/* glibc mallopt: allocations up to mmap_threshold come from the heap, which keeps up to
   trim_threshold bytes freed at its top. Returns non-zero on success. */
int chrono_keep_large_allocations(int mmap_threshold, int trim_threshold);

/* ---- MPI ---- */
MPI_Comm chrono_mpi_comm_world(void);
MPI_Comm chrono_mpi_comm_self(void);
MPI_Comm chrono_mpi_comm_null(void);
/* Calls `action` at the start of MPI_Finalize, while MPI still works (an attribute of
 * MPI_COMM_SELF); actions run in the reverse order of their registration. Call after MPI_Init.
 * Returns an MPI error code. */
int chrono_mpi_call_before_finalize(void (*action)(void));
/* SIGTERM writes one byte to `fd` instead of killing the process, if the process left SIGTERM at
 * its default. Returns 1 when installed, 0 when the program handles SIGTERM itself, -1 on error. */
int chrono_sigterm_to_pipe(int fd);
/* Gives SIGTERM its default back if the handler of chrono_sigterm_to_pipe is still the one. */
void chrono_sigterm_pipe_uninstall(void);
/* Whether SIGTERM has its default action. */
int chrono_sigterm_is_default(void);
/* Restores the default actions of SIGTERM and SIGINT. */
void chrono_sigterm_sigint_default(void);
/* Restores SIGTERM's default and raises it: the process ends as SIGTERM would have ended it. */
void chrono_die_of_sigterm(void);
MPI_Datatype chrono_mpi_byte(void);
MPI_Datatype chrono_mpi_int(void);
MPI_Datatype chrono_mpi_int64(void);
MPI_Datatype chrono_mpi_uint64(void);
MPI_Datatype chrono_mpi_double(void);
MPI_Op chrono_mpi_op_sum(void);
MPI_Op chrono_mpi_op_max(void);
MPI_Op chrono_mpi_op_min(void);
MPI_Errhandler chrono_mpi_errors_return(void);
MPI_Request chrono_mpi_request_null(void);
MPI_Info chrono_mpi_info_null(void);
MPI_Message chrono_mpi_message_null(void);
MPI_Message chrono_mpi_message_no_proc(void);
MPI_Status *chrono_mpi_status_ignore(void);
void *chrono_mpi_in_place(void);
int chrono_mpi_any_source(void);
int chrono_mpi_any_tag(void);
int chrono_mpi_undefined(void);
int chrono_mpi_proc_null(void);
int chrono_mpi_comm_type_shared(void);
int chrono_mpi_appnum_keyval(void);
int chrono_mpi_max_error_string(void);
int chrono_mpi_max_processor_name(void);
int chrono_mpi_max_port_name(void);
int chrono_mpi_thread_single(void);
int chrono_mpi_thread_funneled(void);
int chrono_mpi_thread_serialized(void);
int chrono_mpi_thread_multiple(void);
int chrono_mpi_success(void);
/* Field access on MPI_Status (OpenMPI's public fields are MPI_SOURCE, MPI_TAG, MPI_ERROR). */
int chrono_mpi_status_source(const MPI_Status *s);
int chrono_mpi_status_tag(const MPI_Status *s);
int chrono_mpi_status_error(const MPI_Status *s);

/* ---- HDF5 ---- */
hid_t chrono_h5p_default(void);
hid_t chrono_h5p_file_access(void);
hid_t chrono_h5p_dataset_access(void);
hid_t chrono_h5p_file_create(void);
hid_t chrono_h5p_dataset_create(void);
hid_t chrono_h5p_dataset_xfer(void);
hid_t chrono_h5p_group_create(void);
hid_t chrono_h5p_link_create(void);
hid_t chrono_h5s_all(void);
hid_t chrono_h5e_default(void);
hsize_t chrono_h5s_unlimited(void);
unsigned chrono_h5f_acc_trunc(void);
unsigned chrono_h5f_acc_excl(void);
unsigned chrono_h5f_acc_rdonly(void);
unsigned chrono_h5f_acc_rdwr(void);
hid_t chrono_h5t_native_uint8(void);
hid_t chrono_h5t_native_uint32(void);
hid_t chrono_h5t_native_uint64(void);
hid_t chrono_h5t_native_int64(void);
hid_t chrono_h5t_native_double(void);
hid_t chrono_h5t_std_u8le(void);
hid_t chrono_h5t_std_u32le(void);
hid_t chrono_h5t_std_u64le(void);
hid_t chrono_h5t_std_i64le(void);
hid_t chrono_h5t_ieee_f64le(void);
hid_t chrono_h5t_c_s1(void);
/* Set the parallel MPI-IO driver on a file-access property list. */
herr_t chrono_h5p_set_fapl_mpio(hid_t fapl, MPI_Comm comm);
/* Sets the metadata cache's dirty_bytes_threshold of `fapl` to its largest allowed value
 * (H5C__MAX_MAX_CACHE_SIZE / 4 = 32 MiB): in a parallel file, metadata is then written at flush
 * and close only, not inside collective metadata calls (H5Gcreate, H5Dcreate, H5Dset_extent). */
herr_t chrono_h5p_set_metadata_writes_at_flush(hid_t fapl);
/* H5FD_MPIO_COLLECTIVE / H5FD_MPIO_INDEPENDENT on a transfer property list. */
herr_t chrono_h5p_set_dxpl_mpio(hid_t dxpl, int collective);
/* Turn off HDF5's automatic error printing on the default stack. */
herr_t chrono_h5e_silence(void);
/* Write the current default error stack as text into buf (NUL terminated, truncated to cap). */
size_t chrono_h5e_describe(char *buf, size_t cap);
/* H5T_VARIABLE (a cast macro): the string size that makes a string type variable-length. */
size_t chrono_h5t_variable(void);
/* The number of attributes attached to an object (H5Oget_info2, H5O_INFO_NUM_ATTRS); -1 on error. */
int64_t chrono_h5a_count(hid_t obj);
/* Reserve `bytes` of storage just past the end of the file at `path` without changing its size
 * (fallocate FALLOC_FL_KEEP_SIZE), so later writes there cannot fail for lack of space. Where the
 * file system cannot reserve (EOPNOTSUPP), checks instead that statvfs reports `bytes` available.
 * Returns 0 or an errno value (ENOSPC when there is not enough room). Sets *file_size to the
 * file's size and *available to the bytes the file system reports available (statvfs f_bavail),
 * both -1 when unknown. */
int chrono_reserve_file_space(const char *path, int64_t bytes, int64_t *file_size, int64_t *available);
/* Give back storage reserved past the end of the file at `path` (fallocate FALLOC_FL_PUNCH_HOLE |
 * FALLOC_FL_KEEP_SIZE over `bytes` from its end). Returns 0 or an errno value. */
int chrono_release_file_space(const char *path, int64_t bytes);
/// Starts writing back every dirty page of the file open at `fd` (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`), without waiting for it; 0 or errno.
int chrono_start_writeback(int fd);

/* Ask the kernel to drop the cached pages of the file at `path` except its last `keep_last` bytes
 * (posix_fadvise POSIX_FADV_DONTNEED over [0, size - keep_last)). Clean pages (written and synced)
 * are freed at once; dirty ones are left. Freed pages are taken again by the next writes, which on a
 * VM that returns free memory to its host avoids a host fault per new page of the file. Returns 0 or
 * an errno value; sets *dropped to the length of the range advised (0 when the file is smaller). */
int chrono_drop_cached_pages(const char *path, int64_t keep_last, int64_t *dropped);

/* ---- libfabric ---- */
uint32_t chrono_fi_version(void);
uint64_t chrono_fi_cap_rma(void);
uint64_t chrono_fi_cap_msg(void);
uint64_t chrono_fi_cap_read(void);
uint64_t chrono_fi_cap_write(void);
uint64_t chrono_fi_cap_remote_read(void);
uint64_t chrono_fi_cap_remote_write(void);
int chrono_fi_mr_local(void);
int chrono_fi_mr_virt_addr(void);
int chrono_fi_mr_allocated(void);
int chrono_fi_mr_prov_key(void);
int chrono_fi_mr_endpoint(void);
int chrono_fi_mr_raw(void);
int chrono_fi_eagain(void);
int chrono_fi_eavail(void);
/* fi_getinfo for an RDM endpoint with RMA+MSG on the named provider (NULL: any). */
int chrono_fi_getinfo_rdm(const char *provider, int mr_mode_bits, struct fi_info **out);
const char *chrono_fi_info_provider(const struct fi_info *info);
const char *chrono_fi_info_fabric_name(const struct fi_info *info);
const char *chrono_fi_info_domain_name(const struct fi_info *info);
int chrono_fi_info_mr_mode(const struct fi_info *info);
uint64_t chrono_fi_info_caps(const struct fi_info *info);
size_t chrono_fi_info_max_msg_size(const struct fi_info *info);
struct fi_info *chrono_fi_info_next(const struct fi_info *info);
void chrono_fi_freeinfo(struct fi_info *info);
/* Object lifecycle (fi_fabric, fi_domain, fi_endpoint, fi_av_open, fi_cq_open, bind, enable, close). */
int chrono_fi_fabric(struct fi_info *info, struct fid_fabric **fabric);
int chrono_fi_domain(struct fid_fabric *fabric, struct fi_info *info, struct fid_domain **domain);
int chrono_fi_endpoint(struct fid_domain *domain, struct fi_info *info, struct fid_ep **ep);
int chrono_fi_av_open_map(struct fid_domain *domain, size_t count, struct fid_av **av);
int chrono_fi_cq_open_data(struct fid_domain *domain, size_t size, struct fid_cq **cq);
int chrono_fi_ep_bind_av(struct fid_ep *ep, struct fid_av *av);
int chrono_fi_ep_bind_cq(struct fid_ep *ep, struct fid_cq *cq);
int chrono_fi_enable(struct fid_ep *ep);
int chrono_fi_getname(struct fid_ep *ep, void *addr, size_t *len);
int chrono_fi_av_insert(struct fid_av *av, const void *addrs, size_t count, fi_addr_t *out);
int chrono_fi_close(struct fid *f);
struct fid *chrono_fi_fid_fabric(struct fid_fabric *p);
struct fid *chrono_fi_fid_domain(struct fid_domain *p);
struct fid *chrono_fi_fid_ep(struct fid_ep *p);
struct fid *chrono_fi_fid_av(struct fid_av *p);
struct fid *chrono_fi_fid_cq(struct fid_cq *p);
struct fid *chrono_fi_fid_mr(struct fid_mr *p);
/* Memory registration; access is FI_READ|FI_WRITE|FI_REMOTE_READ|FI_REMOTE_WRITE. */
int chrono_fi_mr_reg(struct fid_domain *domain, void *buf, size_t len, uint64_t requested_key, struct fid_mr **mr);
/* Registration of memory peers may only read (FI_REMOTE_READ): memory lent in place. */
int chrono_fi_mr_reg_remote_read(struct fid_domain *domain, const void *buf, size_t len, uint64_t requested_key,
                                 struct fid_mr **mr);
int chrono_fi_mr_bind_ep(struct fid_mr *mr, struct fid_ep *ep);
int chrono_fi_mr_enable(struct fid_mr *mr);
uint64_t chrono_fi_mr_key(struct fid_mr *mr);
void *chrono_fi_mr_desc(struct fid_mr *mr);
/* One-sided operations; context is echoed back in the completion. */
ssize_t chrono_fi_read(struct fid_ep *ep, void *buf, size_t len, void *desc, fi_addr_t src, uint64_t addr, uint64_t key, void *context);
ssize_t chrono_fi_write(struct fid_ep *ep, const void *buf, size_t len, void *desc, fi_addr_t dest, uint64_t addr, uint64_t key, void *context);
/* Read up to max completions; returns count, -FI_EAGAIN when empty, -FI_EAVAIL on error. */
ssize_t chrono_fi_cq_read(struct fid_cq *cq, void **contexts, size_t max);
/* Details of the next error completion: fills err (provider errno) and the message text. */
ssize_t chrono_fi_cq_readerr(struct fid_cq *cq, int *err, int *prov_errno, void **context, char *msg, size_t cap);
const char *chrono_fi_strerror(int err);

/* ---- libfabric: additions for the Fabric wrapper (Sources/Fabric) ---- */
int chrono_fi_enodata(void);
int chrono_fi_etoosmall(void);
uint64_t chrono_fi_op_completion(void);
uint64_t chrono_fi_op_delivery_complete(void);
uint64_t chrono_fi_mode_context(void);
uint64_t chrono_fi_info_mode(const struct fi_info *info);
size_t chrono_fi_info_tx_size(const struct fi_info *info);
size_t chrono_fi_info_mr_key_size(const struct fi_info *info);
size_t chrono_fi_info_addrlen(const struct fi_info *info);
/* A copy of one entry of a getinfo list (its next pointer cleared); free with chrono_fi_freeinfo. */
struct fi_info *chrono_fi_dupinfo(const struct fi_info *info);
/* fi_readmsg / fi_writemsg of one contiguous buffer with explicit operation flags
 * (e.g. FI_COMPLETION | FI_DELIVERY_COMPLETE, so a write's completion means the data is
 * visible in the target's memory). */
ssize_t chrono_fi_readmsg(struct fid_ep *ep, void *buf, size_t len, void *desc, fi_addr_t src, uint64_t addr, uint64_t key, void *context, uint64_t flags);
ssize_t chrono_fi_writemsg(struct fid_ep *ep, const void *buf, size_t len, void *desc, fi_addr_t dest, uint64_t addr, uint64_t key, void *context, uint64_t flags);

#endif
