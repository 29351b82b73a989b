// A model of a disk that loses power, behind the spool's FileIo seam.
//
// It keeps two states: what the running system sees, and what is durable. File
// data becomes durable with fdatasync; names (created, renamed, deleted files)
// become durable with an fsync of their directory. Directories themselves are
// durable once made. When the power is cut, the disk comes back with the
// durable state plus some of what was not synced, in order: none of it, all of
// it, or a part with the last write torn (half of its bytes, or the file
// longer but the bytes zeros, as ext4 may leave after a crash).
//
// Optionally the disk has a capacity in 4 KiB blocks: writes past it are short
// or fail with ENOSPC, and punching a hole frees the blocks it covers.
//
// cut_after(n): the n-th operation that changes something is the last one;
// then the power is cut (a snapshot is kept) and every operation fails with EIO.
#pragma once

#include <fcntl.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "spool/file_io.hpp"

class PowerCutFs final : public classroom::FileIo {
 public:
  static constexpr uint64_t kBlock = 4096;
  enum class Unsynced { none, all, torn_half, torn_zeros, half_of_names };
  static constexpr Unsynced kAllVariants[] = {Unsynced::none, Unsynced::all, Unsynced::torn_half,
                                              Unsynced::torn_zeros, Unsynced::half_of_names};

  explicit PowerCutFs(uint64_t capacity_blocks = UINT64_MAX) : capacity_(capacity_blocks) {}

  // --- the power cut ---
  void cut_after(long n) { cut_at_ = n; }
  bool dead() const { return dead_; }
  long ops() const { return ops_; }
  // The disk as it comes back after the cut (or now, if it was not cut).
  std::unique_ptr<PowerCutFs> after_power_cut(Unsynced what) const {
    const PowerCutFs& at = frozen_ ? *frozen_ : *this;
    auto out = std::make_unique<PowerCutFs>(capacity_);
    out->dirs_ = at.dirs_;
    // Names: the durable ones, then (some of) the unsynced changes in order.
    std::map<std::string, int> names = at.durable_names_;
    size_t keep = what == Unsynced::none            ? 0
                  : what == Unsynced::half_of_names ? at.name_ops_.size() / 2
                                                    : at.name_ops_.size();
    for (size_t i = 0; i < keep; ++i) apply_name_op(names, at.name_ops_[i]);
    for (const auto& [path, ino] : names) {
      const Inode& src = at.inodes_.at(ino);
      Inode f;
      f.data = src.durable;
      const size_t n = src.pending.size();
      const size_t full = what == Unsynced::none ? 0
                          : (what == Unsynced::all || what == Unsynced::half_of_names)
                              ? n
                              : (n > 0 ? n - 1 : 0);
      for (size_t i = 0; i < full; ++i) apply_data_op(f.data, src.pending[i]);
      if (n > 0 && full == n - 1) {
        DataOp torn = src.pending[n - 1];
        if (torn.kind == DataOp::write) {
          if (what == Unsynced::torn_half) {
            torn.bytes.resize(torn.bytes.size() / 2);
          } else {
            torn.bytes.assign(torn.bytes.size(), '\0');  // the size, not the data
          }
        }
        apply_data_op(f.data, torn);
      }
      f.durable = f.data;
      const int new_ino = out->next_ino_++;
      out->alloc_all(f);
      out->inodes_[new_ino] = std::move(f);
      out->names_[path] = new_ino;
      out->durable_names_[path] = new_ino;
    }
    return out;
  }

  // The current content of a file (tests read it to damage it).
  std::optional<std::string> content(const std::string& path) const {
    auto it = names_.find(path);
    if (it == names_.end()) return std::nullopt;
    return inodes_.at(it->second).data;
  }
  uint64_t used_blocks() const { return used_; }

  // --- FileIo ---
  int open(const char* path, int flags, mode_t) override {
    if (!alive()) return -1;
    if (dirs_.count(path)) return fail(EISDIR);
    auto it = names_.find(path);
    int ino;
    if (it == names_.end()) {
      if (!(flags & O_CREAT)) return fail(ENOENT);
      if (!parent_exists(path)) return fail(ENOENT);
      if (!changing()) return -1;
      ino = next_ino_++;
      inodes_[ino] = Inode{};
      names_[path] = ino;
      name_ops_.push_back(NameOp{NameOp::link, path, "", ino});
    } else {
      ino = it->second;
    }
    if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
      if (!changing()) return -1;
      truncate_to(ino, 0);
    }
    const int fd = next_fd_++;
    fds_[fd] = ino;
    return fd;
  }
  int close(int fd) override { return fds_.erase(fd) ? 0 : fail(EBADF); }
  ssize_t pread(int fd, void* buf, size_t n, off_t offset) override {
    if (!alive()) return -1;
    Inode* f = inode(fd);
    if (!f) return fail(EBADF);
    const auto off = static_cast<size_t>(offset);
    if (off >= f->data.size()) return 0;
    const size_t k = std::min(n, f->data.size() - off);
    std::memcpy(buf, f->data.data() + off, k);
    return static_cast<ssize_t>(k);
  }
  ssize_t pwritev(int fd, const iovec* iov, int count, off_t offset) override {
    if (!alive()) return -1;
    Inode* f = inode(fd);
    if (!f) return fail(EBADF);
    std::string bytes;
    for (int i = 0; i < count; ++i)
      bytes.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    // As much as the free blocks hold.
    const auto off = static_cast<uint64_t>(offset);
    uint64_t fits = bytes.size(), extra = 0;
    if (!bytes.empty()) {
      for (uint64_t b = off / kBlock; b <= (off + bytes.size() - 1) / kBlock; ++b) {
        if (f->blocks.count(b)) continue;
        if (used_ + extra + 1 > capacity_) {
          fits = b * kBlock > off ? b * kBlock - off : 0;
          break;
        }
        ++extra;
      }
    }
    if (fits == 0 && !bytes.empty()) return fail(ENOSPC);
    if (!changing()) return -1;
    bytes.resize(fits);
    DataOp op{DataOp::write, off, 0, bytes};
    apply_data_op(f->data, op);
    alloc_range(*f, off, fits);
    f->pending.push_back(std::move(op));
    return static_cast<ssize_t>(fits);
  }
  int ftruncate(int fd, off_t size) override {
    if (!alive()) return -1;
    auto it = fds_.find(fd);
    if (it == fds_.end()) return fail(EBADF);
    if (!changing()) return -1;
    truncate_to(it->second, static_cast<uint64_t>(size));
    return 0;
  }
  int fdatasync(int fd) override {
    if (!alive()) return -1;
    Inode* f = inode(fd);
    if (!f) return fail(EBADF);
    if (!changing()) return -1;
    f->durable = f->data;
    f->pending.clear();
    return 0;
  }
  int fstat(int fd, struct stat* st) override {
    Inode* f = inode(fd);
    if (!f) return fail(EBADF);
    *st = {};
    st->st_mode = S_IFREG | 0640;
    st->st_size = static_cast<off_t>(f->data.size());
    st->st_blksize = kBlock;
    const int ino = fds_.at(fd);
    st->st_nlink = static_cast<nlink_t>(std::count_if(
        names_.begin(), names_.end(), [&](const auto& name) { return name.second == ino; }));
    return 0;
  }
  bool can_punch_holes = true;  // false: as vfat, EOPNOTSUPP
  int punch_hole(int fd, off_t offset, off_t length) override {
    if (!alive()) return -1;
    if (!can_punch_holes) return fail(EOPNOTSUPP);
    Inode* f = inode(fd);
    if (!f) return fail(EBADF);
    if (!changing()) return -1;
    DataOp op{DataOp::punch, static_cast<uint64_t>(offset), static_cast<uint64_t>(length), {}};
    apply_data_op(f->data, op);
    const uint64_t first = (op.offset + kBlock - 1) / kBlock,
                   end = (op.offset + op.length) / kBlock;
    for (uint64_t b = first; b < end; ++b) used_ -= f->blocks.erase(b);
    f->pending.push_back(std::move(op));
    return 0;
  }
  int rename(const char* from, const char* to) override {
    if (!alive()) return -1;
    auto it = names_.find(from);
    if (it == names_.end()) return fail(ENOENT);
    if (!changing()) return -1;
    name_ops_.push_back(NameOp{NameOp::rename, from, to, it->second});
    apply_name_op(names_, name_ops_.back());
    collect();
    return 0;
  }
  int unlink(const char* path) override {
    if (!alive()) return -1;
    auto it = names_.find(path);
    if (it == names_.end()) return fail(ENOENT);
    if (!changing()) return -1;
    name_ops_.push_back(NameOp{NameOp::unlink, path, "", it->second});
    apply_name_op(names_, name_ops_.back());
    collect();
    return 0;
  }
  int mkdir(const char* path, mode_t) override {
    if (!alive()) return -1;
    if (dirs_.count(path) || names_.count(path)) return fail(EEXIST);
    if (!parent_exists(path)) return fail(ENOENT);
    dirs_.insert(path);
    return 0;
  }
  int fsync_dir(const char* path) override {
    if (!alive()) return -1;
    if (!dirs_.count(path)) return fail(ENOENT);
    if (!changing()) return -1;
    // The names of this directory become durable as they are now.
    for (auto it = durable_names_.begin(); it != durable_names_.end();)
      it = parent(it->first) == path ? durable_names_.erase(it) : std::next(it);
    for (const auto& [name, ino] : names_)
      if (parent(name) == path) durable_names_[name] = ino;
    std::vector<NameOp> rest;
    for (auto& op : name_ops_)
      if (parent(op.path) != path && (op.to.empty() || parent(op.to) != path)) rest.push_back(op);
    name_ops_ = std::move(rest);
    return 0;
  }
  bool list_dir(const char* path, std::vector<std::string>& out) override {
    if (!alive()) return false;
    if (!dirs_.count(path)) {
      fail(ENOENT);
      return false;
    }
    const std::string prefix = std::string(path) + "/";
    for (const auto& [name, ino] : names_)
      if (parent(name) == path) out.push_back(name.substr(prefix.size()));
    for (const auto& d : dirs_)
      if (parent(d) == path) out.push_back(d.substr(prefix.size()));
    return true;
  }

 private:
  struct DataOp {
    enum Kind { write, truncate, punch } kind;
    uint64_t offset = 0;
    uint64_t length = 0;  // truncate: the new size; punch: the length
    std::string bytes;    // write
  };
  struct NameOp {
    enum Kind { link, rename, unlink } kind;
    std::string path, to;
    int ino;
  };
  struct Inode {
    std::string data, durable;
    std::vector<DataOp> pending;
    std::set<uint64_t> blocks;
  };

  static std::string parent(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
  }
  bool parent_exists(const std::string& path) const {
    const std::string p = parent(path);
    return p == "/" || dirs_.count(p);
  }
  static void apply_data_op(std::string& data, const DataOp& op) {
    switch (op.kind) {
      case DataOp::write:
        if (data.size() < op.offset + op.bytes.size())
          data.resize(op.offset + op.bytes.size(), '\0');
        std::memcpy(data.data() + op.offset, op.bytes.data(), op.bytes.size());
        break;
      case DataOp::truncate:
        data.resize(op.length, '\0');
        break;
      case DataOp::punch:
        if (op.offset < data.size())
          std::fill(data.begin() + static_cast<long>(op.offset),
                    data.begin() +
                        static_cast<long>(std::min<uint64_t>(data.size(), op.offset + op.length)),
                    '\0');
        break;
    }
  }
  static void apply_name_op(std::map<std::string, int>& names, const NameOp& op) {
    switch (op.kind) {
      case NameOp::link:
        names[op.path] = op.ino;
        break;
      case NameOp::rename:
        names.erase(op.path);
        names[op.to] = op.ino;
        break;
      case NameOp::unlink:
        names.erase(op.path);
        break;
    }
  }
  void alloc_range(Inode& f, uint64_t off, uint64_t len) {
    if (len == 0) return;
    for (uint64_t b = off / kBlock; b <= (off + len - 1) / kBlock; ++b)
      used_ += f.blocks.insert(b).second;
  }
  void alloc_all(Inode& f) {
    for (uint64_t b = 0; b * kBlock < f.data.size(); ++b) {
      bool zero = true;
      for (uint64_t i = b * kBlock; i < std::min<uint64_t>(f.data.size(), (b + 1) * kBlock); ++i)
        if (f.data[i] != '\0') zero = false;
      if (!zero) used_ += f.blocks.insert(b).second;
    }
  }
  void truncate_to(int ino, uint64_t size) {
    Inode& f = inodes_.at(ino);
    DataOp op{DataOp::truncate, 0, size, {}};
    apply_data_op(f.data, op);
    for (auto it = f.blocks.lower_bound((size + kBlock - 1) / kBlock); it != f.blocks.end();) {
      it = f.blocks.erase(it);
      --used_;
    }
    f.pending.push_back(std::move(op));
  }
  // Frees the blocks of files no name refers to any more, as a filesystem
  // does at once (open ones stay until closed; the spool never reads a file
  // after deleting it, so this is close enough). A power cut may bring the
  // name back: its durable bytes are kept for that.
  void collect() {
    std::set<int> live;
    for (const auto& [n, ino] : names_) live.insert(ino);
    for (auto& [ino, f] : inodes_)
      if (!live.count(ino) && !f.blocks.empty()) {
        used_ -= f.blocks.size();
        f.blocks.clear();
      }
  }
  Inode* inode(int fd) {
    auto it = fds_.find(fd);
    return it == fds_.end() ? nullptr : &inodes_.at(it->second);
  }
  int fail(int err) {
    errno = err;
    return -1;
  }
  bool alive() {
    if (dead_) errno = EIO;
    return !dead_;
  }
  // Counts an operation that changes the disk; at the cut point the power goes.
  bool changing() {
    if (dead_) {
      fail(EIO);
      return false;
    }
    if (++ops_ == cut_at_) {
      // The cut happens during this operation: it may or may not have reached
      // the disk. Keep the state before it; the torn variants cover a part.
      frozen_ = std::make_shared<PowerCutFs>(*this);
      frozen_->frozen_.reset();
      dead_ = true;
      errno = EIO;
      return false;
    }
    return true;
  }

  uint64_t capacity_;
  uint64_t used_ = 0;
  std::set<std::string> dirs_;
  std::map<std::string, int> names_, durable_names_;
  std::vector<NameOp> name_ops_;
  std::map<int, Inode> inodes_;
  std::map<int, int> fds_;
  int next_ino_ = 1, next_fd_ = 3;
  long ops_ = 0, cut_at_ = -1;
  bool dead_ = false;
  std::shared_ptr<PowerCutFs> frozen_;
};
