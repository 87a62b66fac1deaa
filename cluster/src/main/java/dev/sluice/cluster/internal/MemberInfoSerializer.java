package dev.sluice.cluster.internal;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import dev.sluice.cluster.MemberInfo;
import dev.sluice.cluster.Role;
import dev.sluice.loader.runtime.Resources;
import java.io.IOException;
import java.util.UUID;

/**
 * {@link MemberInfo} on the wire, format 1: the UUID as two longs, the address, the role by name
 * (not ordinal, so that adding a role later cannot shift the others), the host label, CPUs and
 * GPUs, the memory budget, the Sluice version, then the transport and name (each possibly null).
 */
public final class MemberInfoSerializer extends VersionedSerializer<MemberInfo> {
  /** The format written. */
  public static final int VERSION = 1;

  public MemberInfoSerializer() {
    super(MemberInfo.class, SluiceTypeIds.MEMBER_INFO, VERSION);
  }

  @Override
  protected void writeBody(ObjectDataOutput out, MemberInfo m) throws IOException {
    out.writeLong(m.id().getMostSignificantBits());
    out.writeLong(m.id().getLeastSignificantBits());
    out.writeString(m.address());
    out.writeString(m.role().name());
    out.writeString(m.host());
    out.writeDouble(m.resources().cpus());
    out.writeDouble(m.resources().gpus());
    out.writeLong(m.memoryBudget());
    out.writeString(m.sluiceVersion());
    out.writeString(m.transport());
    out.writeString(m.name());
  }

  @Override
  protected MemberInfo readBody(ObjectDataInput in, int version) throws IOException {
    UUID id = new UUID(in.readLong(), in.readLong());
    String address = in.readString();
    Role role;
    String roleName = in.readString();
    try {
      role = Role.valueOf(roleName);
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IOException("unknown Sluice role in MemberInfo: " + roleName, e);
    }
    return new MemberInfo(
        id,
        address,
        role,
        in.readString(),
        new Resources(in.readDouble(), in.readDouble()),
        in.readLong(),
        in.readString(),
        in.readString(),
        in.readString());
  }
}
