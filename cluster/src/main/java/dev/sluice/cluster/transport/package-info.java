/**
 * The data plane of the cluster: blocks move between processes as Arrow IPC through {@link
 * dev.sluice.cluster.transport.BlockTransport}, served from each process's {@link
 * dev.sluice.cluster.transport.BlockSource}. Hazelcast carries only control messages (where a block
 * is, who takes it); the bytes go here.
 *
 * <p>{@link dev.sluice.cluster.transport.NettyBlockTransport} is the implementation, chosen by the
 * {@code transport} benchmark (module {@code benchmarks}). Its wire format is {@code WireFormat};
 * the package-private classes are its machinery: {@code RequestHandler} (server side, zero-copy
 * sends through {@code OutgoingBlock}), {@code PeerConnection} and {@code ResponseDecoder} (client
 * side, bodies read straight into Arrow buffers through {@code IncomingBlock}).
 */
package dev.sluice.cluster.transport;
