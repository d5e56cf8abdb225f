// mount(2)/umount2(2) for the driver's tmpfs volumes, as an N-API addon: spawning mount(8) from the driver costs
// ~4 ms of main-thread CPU per publish (fork of a large process), the syscall a few microseconds. Errors carry
// the errno name as `code`, like Node's own fs errors. N-API keeps one build valid across Node versions.
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <node_api.h>

#define PATH_LIMIT 4096

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case ENOMEM: return "ENOMEM";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case ENODEV: return "ENODEV";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *syscall, int e) {
  napi_value code, message, error;
  char text[256];
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(e));
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_throw(env, error);
  return NULL;
}

/** The one string argument, a path; false (with a pending TypeError) when it is missing or too long. */
static int path_argument(napi_env env, napi_callback_info info, char *path) {
  size_t argc = 1, length = 0;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, PATH_LIMIT, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a path string");
    return 0;
  }
  if (length >= PATH_LIMIT - 1) {
    napi_throw_type_error(env, NULL, "path too long");
    return 0;
  }
  return 1;
}

/** (path): `mount -t tmpfs tmpfs <path>` with no options, as upstream mounts; the driver mounts hardened (below). */
static napi_value mount_tmpfs(napi_env env, napi_callback_info info) {
  char target[PATH_LIMIT];
  if (!path_argument(env, info, target)) return NULL;
  if (mount("tmpfs", target, "tmpfs", 0, NULL) != 0) return throw_errno(env, "mount", errno);
  return NULL;
}

/**
 * (path, sizeBytes): a tmpfs no pod can use against the node: nosuid and nodev, its root 0755, and at most
 * sizeBytes of contents (0: no size option, the kernel's default of half the RAM).
 */
static napi_value mount_tmpfs_hardened(napi_env env, napi_callback_info info) {
  char target[PATH_LIMIT];
  if (!path_argument(env, info, target)) return NULL;
  size_t argc = 2;
  napi_value argv[2];
  int64_t size = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int64(env, argv[1], &size) != napi_ok || size < 0) {
    napi_throw_type_error(env, NULL, "expected a size in bytes (0 for none)");
    return NULL;
  }
  char data[64];
  if (size > 0) snprintf(data, sizeof data, "size=%lld,mode=0755", (long long)size);
  else snprintf(data, sizeof data, "mode=0755");
  if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, data) != 0) return throw_errno(env, "mount", errno);
  return NULL;
}

/** umount2 of the target, never through a symlink at its last element; `lazy`: MNT_DETACH (umount -l). */
static napi_value do_unmount(napi_env env, napi_callback_info info, int lazy) {
  char target[PATH_LIMIT];
  if (!path_argument(env, info, target)) return NULL;
  int flags = UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0);
  if (umount2(target, flags) != 0) return throw_errno(env, lazy ? "umount -l" : "umount", errno);
  return NULL;
}

static napi_value unmount(napi_env env, napi_callback_info info) {
  return do_unmount(env, info, 0);
}

// The last resort of a rollback: a busy mount (a process has its cwd or an open file inside) leaves the target at
// once and is freed when the last user lets go.
static napi_value unmount_lazy(napi_env env, napi_callback_info info) {
  return do_unmount(env, info, 1);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "mountTmpfs", NAPI_AUTO_LENGTH, mount_tmpfs, NULL, &fn);
  napi_set_named_property(env, exports, "mountTmpfs", fn);
  napi_create_function(env, "mountTmpfsHardened", NAPI_AUTO_LENGTH, mount_tmpfs_hardened, NULL, &fn);
  napi_set_named_property(env, exports, "mountTmpfsHardened", fn);
  napi_create_function(env, "unmount", NAPI_AUTO_LENGTH, unmount, NULL, &fn);
  napi_set_named_property(env, exports, "unmount", fn);
  napi_create_function(env, "unmountLazy", NAPI_AUTO_LENGTH, unmount_lazy, NULL, &fn);
  napi_set_named_property(env, exports, "unmountLazy", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
