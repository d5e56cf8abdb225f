// The mountinfo parser against real-looking lines: escapes, optional fields, stacked mounts.
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import {
  decodeMountInfoField,
  encodeMountInfoField,
  findMount,
  findMountInText,
  parseMountInfo,
  parseMountInfoLine
} from "../../src/mount/MountInfo.js"

const kubeletTarget = "/var/lib/kubelet/pods/7c1f/volumes/kubernetes.io~csi/secrets-store-inline/mount"

const sample = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "27 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw,errors=remount-ro",
  "24 27 0:6 / /dev rw,nosuid,relatime shared:2 master:7 - devtmpfs devtmpfs rw,size=12334460k,mode=755",
  `301 27 0:88 / ${kubeletTarget} rw,relatime shared:150 - tmpfs tmpfs rw,size=8192k`,
  "302 27 0:89 / /tmp/with\\040space/and\\011tab rw,relatime - tmpfs tmpfs rw",
  "303 27 252:1 /srv/back\\134slash /mnt/bind rw,relatime unbindable - ext4 /dev/vda rw",
  `304 301 0:90 / ${kubeletTarget} rw,relatime - ramfs ramfs rw`,
  "garbage line without enough fields",
  ""
].join("\n")

describe("parseMountInfoLine", () => {
  const table: ReadonlyArray<{
    readonly line: string
    readonly mountPoint: string
    readonly fsType: string
    readonly root: string
    readonly optional: ReadonlyArray<string>
    readonly source: string
    readonly superOptions: string
  }> = [
    {
      line: "22 27 0:21 / /proc rw,relatime - proc proc rw",
      mountPoint: "/proc",
      fsType: "proc",
      root: "/",
      optional: [],
      source: "proc",
      superOptions: "rw"
    },
    {
      line: "24 27 0:6 / /dev rw,nosuid shared:2 master:7 - devtmpfs devtmpfs rw,mode=755",
      mountPoint: "/dev",
      fsType: "devtmpfs",
      root: "/",
      optional: ["shared:2", "master:7"],
      source: "devtmpfs",
      superOptions: "rw,mode=755"
    },
    {
      line: "302 27 0:89 / /tmp/with\\040space/and\\011tab rw - tmpfs tmpfs rw",
      mountPoint: "/tmp/with space/and\ttab",
      fsType: "tmpfs",
      root: "/",
      optional: [],
      source: "tmpfs",
      superOptions: "rw"
    },
    {
      line: "303 27 252:1 /srv/back\\134slash /mnt/new\\012line rw unbindable - ext4 /dev/my\\040disk rw",
      mountPoint: "/mnt/new\nline",
      fsType: "ext4",
      root: "/srv/back\\slash",
      optional: ["unbindable"],
      source: "/dev/my disk",
      superOptions: "rw"
    },
    // A field named "-" can only be the separator once the six fixed fields are consumed.
    {
      line: "40 27 0:50 / /mnt rw shared:9 - fuse.sshfs user@host:/ rw,user_id=0",
      mountPoint: "/mnt",
      fsType: "fuse.sshfs",
      root: "/",
      optional: ["shared:9"],
      source: "user@host:/",
      superOptions: "rw,user_id=0"
    }
  ]
  for (const row of table) {
    it(`parses ${row.mountPoint.replace(/\s/g, "_")}`, () => {
      const entry = parseMountInfoLine(row.line)
      assert.isDefined(entry)
      assert.strictEqual(entry!.mountPoint, row.mountPoint)
      assert.strictEqual(entry!.fsType, row.fsType)
      assert.strictEqual(entry!.root, row.root)
      assert.deepStrictEqual(entry!.optionalFields, row.optional)
      assert.strictEqual(entry!.source, row.source)
      assert.strictEqual(entry!.superOptions, row.superOptions)
    })
  }

  it("reads ids and device numbers", () => {
    const entry = parseMountInfoLine("27 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw,errors=remount-ro")
    assert.deepStrictEqual(
      [entry?.mountId, entry?.parentId, entry?.major, entry?.minor, entry?.mountOptions],
      [27, 1, 252, 1, "rw,relatime"]
    )
  })

  it("rejects malformed lines instead of throwing", () => {
    assert.isUndefined(parseMountInfoLine("garbage line without enough fields"))
    assert.isUndefined(parseMountInfoLine("a b 0:1 / /x rw shared:1 x y z w"))
    assert.isUndefined(parseMountInfoLine("1 2 nodev / /x rw - tmpfs tmpfs rw"))
  })
})

describe("octal escapes", () => {
  it("decode and encode are inverses for the four escaped characters", () => {
    const path = "/a b\tc\nd\\e/ünïcode"
    assert.strictEqual(encodeMountInfoField(path), "/a\\040b\\011c\\012d\\134e/ünïcode")
    assert.strictEqual(decodeMountInfoField(encodeMountInfoField(path)), path)
  })
})

describe("findMount", () => {
  const entries = parseMountInfo(sample)

  it("skips malformed lines and keeps the rest", () => {
    assert.strictEqual(entries.length, 7)
  })

  it("returns the last entry for a mount point (stacked mounts)", () => {
    const found = findMount(entries, kubeletTarget)
    assert.isTrue(Option.isSome(found))
    assert.strictEqual(Option.getOrThrow(found).fsType, "ramfs")
    assert.strictEqual(Option.getOrThrow(found).mountId, 304)
  })

  it("matches decoded paths exactly, never prefixes", () => {
    assert.strictEqual(Option.getOrThrow(findMount(entries, "/tmp/with space/and\ttab")).mountId, 302)
    assert.isTrue(Option.isNone(findMount(entries, "/tmp/with space")))
    assert.isTrue(Option.isNone(findMount(entries, "/de")))
  })

  it("findMountInText agrees with parse + findMount", () => {
    for (const path of [
      kubeletTarget,
      "/",
      "/proc",
      "/dev",
      "/tmp/with space/and\ttab",
      "/mnt/bind",
      "/nope",
      "/tmp"
    ]) {
      assert.deepStrictEqual(findMountInText(sample, path), findMount(entries, path), path)
    }
  })

  it("findMountInText ignores a line where only the root field matches", () => {
    const text = "303 27 252:1 /srv/data /mnt/bind rw - ext4 /dev/vda rw\n"
    assert.isTrue(Option.isNone(findMountInText(text, "/srv/data")))
    assert.isTrue(Option.isSome(findMountInText(text, "/mnt/bind")))
  })
})
