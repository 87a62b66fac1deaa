package dev.sluice.loader.internal.plan;

/**
 * A wrapper that knows which user class it stands for (an actor pool's factory built from the
 * user's class or supplier), so that a plan's fingerprint names the user's code, not the wrapper.
 */
public interface FunctionIdentity {
  /** The user's class. */
  Class<?> identity();
}
