import { describe, expect, it } from "vitest";
import { SIGN_IN_ERROR_MESSAGE, signInErrorMessage } from "./error-message";

describe("signInErrorMessage", () => {
  it("blames the password only for a failed credentials sign-in", () => {
    expect(signInErrorMessage(undefined)).toBeNull();
    expect(signInErrorMessage("")).toBeNull();
    expect(signInErrorMessage("CredentialsSignin")).toBe(SIGN_IN_ERROR_MESSAGE);
    expect(signInErrorMessage(["CredentialsSignin", "x"])).toBe(SIGN_IN_ERROR_MESSAGE);
    expect(signInErrorMessage("AccessDenied")).toMatch(/no access to Pulseboard/);
    expect(signInErrorMessage("OAuthCallback")).toMatch(/provider failed/);
    expect(signInErrorMessage("AccessDenied")).not.toBe(SIGN_IN_ERROR_MESSAGE);
  });
});
