/** The generic credentials failure: the same for an unknown e-mail and a wrong password. */
export const SIGN_IN_ERROR_MESSAGE = "Email or password is incorrect";

/**
 * What to show for next-auth's `?error=<code>` on /login (it is also the error page). Only a
 * failed password sign-in says "Email or password is incorrect"; a refused OAuth sign-in
 * (AccessDenied: no account or invitation for the provider's verified e-mail) or a provider
 * failure must not blame a password the person never typed.
 */
export function signInErrorMessage(code: string | string[] | undefined): string | null {
  const value = Array.isArray(code) ? code[0] : code;
  if (value === undefined || value === "") return null;
  if (value === "CredentialsSignin") return SIGN_IN_ERROR_MESSAGE;
  if (value === "AccessDenied") {
    return "That account has no access to Pulseboard. Sign in with the e-mail address you were invited with, or ask a workspace admin for an invitation.";
  }
  return "Sign-in with that provider failed. Try again, or sign in with your email and password.";
}
