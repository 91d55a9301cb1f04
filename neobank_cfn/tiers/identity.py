"""Identity tier: who the customers are, and which tokens the API accepts from them.

- **User pool** for customers: e-mail sign-in (case-insensitive), a 14-character password with every
  character class and no reuse of the last five, MFA (authenticator app) required or optional by
  parameter, Cognito threat protection by parameter (it needs the Plus feature plan, which is billed
  per active user), account recovery by verified e-mail then phone, deletion protection from a
  parameter, kept on stack deletion. Customers are created by the onboarding service after KYC
  (``AllowAdminCreateUserOnly``), never by self sign-up.
- **App client** for the mobile app: a public client (no secret) that may use only the authorization
  code flow (never implicit; the app sends a PKCE code challenge, which Cognito then verifies) and SRP,
  short-lived access and ID tokens, a refresh token lifetime from a parameter, token revocation on,
  and no user-existence leaks. ``CliSignIn`` adds USER_PASSWORD_AUTH for testing outside prod.
- **Hosted sign-in domain** (optional) for the code flow.

An external OIDC provider can replace Cognito: give ``ExternalIssuerUrl`` and ``ExternalAudience`` and
no user pool is created. Either way the tier outputs the issuer and audience the API's JWT authorizer
checks (``JwtIssuer``, ``JwtAudience``).
"""

from __future__ import annotations

from troposphere import And as CfnAnd
from troposphere import Condition, Equals, If, Not, Ref, Sub, Template
from troposphere.cognito import (
    AccountRecoverySetting,
    AdminCreateUserConfig,
    PasswordPolicy,
    Policies,
    RecoveryOption,
    TokenValidityUnits,
    UserAttributeUpdateSettings,
    UsernameConfiguration,
    UserPool,
    UserPoolAddOns,
    UserPoolClient,
    UserPoolDomain,
)

from neobank_cfn import rules
from neobank_cfn.config import PlatformConfig
from neobank_cfn.contracts import JWT_AUDIENCE, JWT_ISSUER
from neobank_cfn.naming import physical_name
from neobank_cfn.parameters import Param, boolean
from neobank_cfn.rules import Rule
from neobank_cfn.tier import Output, Tier, TierTemplate

GROUP = "Customer identity"
MIN_PASSWORD_LENGTH = 14  # PCI DSS 4.0 8.3.6 asks for 12; NIST SP 800-63B favours length
PASSWORD_HISTORY = 5
TEMPORARY_PASSWORD_DAYS = 3
AUTH_SESSION_MINUTES = 3  # time to answer an MFA challenge
BASE_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
SCOPES = ["openid", "email", "profile"]

CUSTOMER_MFA = Param(
    "CustomerMfa",
    "Multi-factor authentication (authenticator app) for customers: ON requires it at every sign-in; "
    "OPTIONAL lets each customer choose.",
    default="ON",
    allowed_values=("ON", "OPTIONAL"),
    label="Customer MFA",
    group=GROUP,
)
THREAT_PROTECTION = Param(
    "CustomerThreatProtection",
    "Cognito threat protection (compromised credentials, adaptive authentication): ENFORCED blocks risky "
    "sign-ins, AUDIT only reports them, OFF disables it. AUDIT and ENFORCED put the user pool on the Plus "
    "feature plan (billed per monthly active user); OFF uses Essentials.",
    default="ENFORCED",
    allowed_values=("ENFORCED", "AUDIT", "OFF"),
    label="Customer threat protection",
    group=GROUP,
)
USER_POOL_DELETION_PROTECTION = Param(
    "UserPoolDeletionProtection",
    "ACTIVE refuses every attempt to delete the customer user pool until switched to INACTIVE.",
    default="ACTIVE",
    allowed_values=("ACTIVE", "INACTIVE"),
    label="User pool deletion protection",
    group=GROUP,
)
ACCESS_LIFETIME = Param(
    "AccessLifetimeMinutes",
    "Minutes customer access and ID tokens stay valid; short lifetimes limit what a leaked token can do.",
    type="Number",
    default="15",
    min_value=5,
    max_value=60,
    constraint="a whole number of minutes from 5 to 60",
    label="Access/ID token lifetime (minutes)",
    group=GROUP,
)
REFRESH_LIFETIME = Param(
    "RefreshLifetimeDays",
    "Days a refresh token keeps a customer signed in on a device before they must sign in again.",
    type="Number",
    default="30",
    min_value=1,
    max_value=365,
    constraint="a whole number of days from 1 to 365",
    label="Refresh token lifetime (days)",
    group=GROUP,
)
APP_CALLBACK_URL = Param(
    "AppCallbackUrl",
    "Redirect URI of the mobile app for the authorization code flow: an app scheme "
    "(com.example.neobank://auth/callback) or an https URL.",
    default="com.example.neobank://auth/callback",
    allowed_pattern=r"^(?!http:)[a-z][a-z0-9+.-]*://[A-Za-z0-9._~:/?=&%-]+$",
    max_length=1024,
    constraint="an app-scheme or https URL such as com.example.neobank://auth/callback (never plain http)",
    label="App callback URL",
    group=GROUP,
)
AUTH_DOMAIN_PREFIX = Param(
    "AuthDomainPrefix",
    "Prefix of the Cognito sign-in domain (<prefix>.auth.<region>.amazoncognito.com) the app's code flow "
    "uses; unique per Region; empty for none.",
    default="",
    allowed_pattern=r"^$|^(?!.*(aws|amazon|cognito))[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
    constraint="empty, or 1-63 lowercase letters, digits and hyphens without aws, amazon or cognito",
    label="Sign-in domain prefix",
    group=GROUP,
)
CLI_SIGN_IN = boolean(
    "CliSignIn",
    "Also allow USER_PASSWORD_AUTH sign-in (aws cognito-idp initiate-auth) for testing; the app itself uses "
    "SRP or the code flow. false in prod.",
    "false",
    label="Allow CLI sign-in (testing)",
    group=GROUP,
)
EXTERNAL_ISSUER_URL = Param(
    "ExternalIssuerUrl",
    "Issuer URL of an external OIDC provider whose tokens the API accepts instead of Cognito's "
    "(no user pool is created then); empty to use Cognito.",
    default="",
    allowed_pattern=r"^$|^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$",
    constraint="empty, or an https issuer URL such as https://login.example.com/oauth2/default",
    label="External OIDC issuer URL",
    group=GROUP,
)
EXTERNAL_AUDIENCE = Param(
    "ExternalAudience",
    "Audience (aud or client_id claim) the external issuer's tokens carry; required with ExternalIssuerUrl.",
    default="",
    allowed_pattern=r"^[A-Za-z0-9._:/-]*$",
    max_length=256,
    constraint="empty, or up to 256 letters, digits and ._:/-",
    label="External OIDC audience",
    group=GROUP,
)

USE_COGNITO = "UseCognito"


def _conditions(tt: TierTemplate) -> None:
    tt.condition(USE_COGNITO, Equals(tt.ref("ExternalIssuerUrl"), ""))
    tt.condition("HasAuthDomain", CfnAnd(Condition(USE_COGNITO), Not(Equals(tt.ref("AuthDomainPrefix"), ""))))
    tt.condition("ThreatProtectionOff", Equals(tt.ref("CustomerThreatProtection"), "OFF"))
    tt.condition("AllowCliSignIn", Equals(tt.ref("CliSignIn"), "true"))


def _user_pool(tt: TierTemplate) -> UserPool:
    return tt.add(
        UserPool(
            "CustomerUserPool",
            Condition=USE_COGNITO,
            UserPoolName=physical_name("customers"),
            # Threat protection needs Plus; Essentials still gives password history.
            UserPoolTier=If("ThreatProtectionOff", "ESSENTIALS", "PLUS"),
            UserPoolAddOns=UserPoolAddOns(AdvancedSecurityMode=tt.ref("CustomerThreatProtection")),
            DeletionProtection=tt.ref("UserPoolDeletionProtection"),
            MfaConfiguration=tt.ref("CustomerMfa"),
            EnabledMfas=["SOFTWARE_TOKEN_MFA"],
            Policies=Policies(
                PasswordPolicy=PasswordPolicy(
                    MinimumLength=MIN_PASSWORD_LENGTH,
                    RequireLowercase=True,
                    RequireUppercase=True,
                    RequireNumbers=True,
                    RequireSymbols=True,
                    PasswordHistorySize=PASSWORD_HISTORY,
                    TemporaryPasswordValidityDays=TEMPORARY_PASSWORD_DAYS,
                )
            ),
            UsernameAttributes=["email"],
            UsernameConfiguration=UsernameConfiguration(CaseSensitive=False),
            AutoVerifiedAttributes=["email"],
            UserAttributeUpdateSettings=UserAttributeUpdateSettings(
                AttributesRequireVerificationBeforeUpdate=["email"]
            ),
            AccountRecoverySetting=AccountRecoverySetting(
                RecoveryMechanisms=[
                    RecoveryOption(Name="verified_email", Priority=1),
                    RecoveryOption(Name="verified_phone_number", Priority=2),
                ]
            ),
            AdminCreateUserConfig=AdminCreateUserConfig(AllowAdminCreateUserOnly=True),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )


def _app_client(tt: TierTemplate, pool: UserPool) -> UserPoolClient:
    return tt.add(
        UserPoolClient(
            "MobileAppClient",
            Condition=USE_COGNITO,
            UserPoolId=Ref(pool),
            ClientName=physical_name("mobile-app"),
            GenerateSecret=False,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=SCOPES,
            CallbackURLs=[tt.ref("AppCallbackUrl")],
            SupportedIdentityProviders=["COGNITO"],
            ExplicitAuthFlows=If("AllowCliSignIn", [*BASE_FLOWS, "ALLOW_USER_PASSWORD_AUTH"], BASE_FLOWS),
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
            AuthSessionValidity=AUTH_SESSION_MINUTES,
            AccessTokenValidity=tt.ref("AccessLifetimeMinutes"),
            IdTokenValidity=tt.ref("AccessLifetimeMinutes"),
            RefreshTokenValidity=tt.ref("RefreshLifetimeDays"),
            TokenValidityUnits=TokenValidityUnits(AccessToken="minutes", IdToken="minutes", RefreshToken="days"),
        )
    )


def build(config: PlatformConfig) -> Template:
    """The identity tier template."""
    del config
    tt = TierTemplate(TIER)
    _conditions(tt)
    pool = _user_pool(tt)
    client = _app_client(tt, pool)
    tt.add(
        UserPoolDomain(
            "CustomerSignInDomain", Condition="HasAuthDomain", Domain=tt.ref("AuthDomainPrefix"), UserPoolId=Ref(pool)
        )
    )
    issuer = Sub("https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${CustomerUserPool}")
    tt.output("UserPoolId", If(USE_COGNITO, Ref(pool), ""))
    tt.output("UserPoolClientId", If(USE_COGNITO, Ref(client), ""))
    tt.output("JwtIssuer", If(USE_COGNITO, issuer, tt.ref("ExternalIssuerUrl")))
    tt.output("JwtAudience", If(USE_COGNITO, Ref(client), tt.ref("ExternalAudience")))
    return tt.finish()


TIER = Tier(
    name="identity",
    description="customer user pool and mobile app client, or an external OIDC issuer",
    inputs=(
        CUSTOMER_MFA,
        THREAT_PROTECTION,
        USER_POOL_DELETION_PROTECTION,
        ACCESS_LIFETIME,
        REFRESH_LIFETIME,
        APP_CALLBACK_URL,
        AUTH_DOMAIN_PREFIX,
        CLI_SIGN_IN,
        EXTERNAL_ISSUER_URL,
        EXTERNAL_AUDIENCE,
    ),
    outputs=(
        Output("UserPoolId", "Customer user pool id (empty with an external issuer)", expose=True),
        Output("UserPoolClientId", "Mobile app client id (empty with an external issuer)", expose=True),
        Output(JWT_ISSUER.name, "Issuer URL the API's JWT authorizer trusts"),
        Output(JWT_AUDIENCE.name, "Audience the API's JWT authorizer requires"),
    ),
    build=build,
    rules=(
        Rule(
            "ExternalIssuerNeedsAudience",
            "An external OIDC issuer needs its audience (ExternalAudience)",
            rules.is_set("ExternalAudience"),
            when=rules.is_set("ExternalIssuerUrl"),
        ),
        Rule(
            "ProductionProtectsCustomers",
            "In prod, require customer MFA, enforce threat protection, protect the user pool from deletion "
            "and turn CLI sign-in off",
            rules.And(
                (
                    rules.Equals("CustomerMfa", "ON"),
                    rules.Equals("CustomerThreatProtection", "ENFORCED"),
                    rules.Equals("UserPoolDeletionProtection", "ACTIVE"),
                    rules.Equals("CliSignIn", "false"),
                )
            ),
            when=rules.Equals("Environment", "prod"),
        ),
    ),
)
