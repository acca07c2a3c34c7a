"""Start moto in server mode with CloudFormation support for the Cognito resources our stack uses.

moto's CloudFormation skips every AWS::Cognito::* resource (it warns and reports CREATE_COMPLETE),
although its Cognito IDP API works. The models below close that gap by delegating to moto's own
Cognito backend, so a stack from stacks/ really creates a user pool, domain, resource server and
app clients that the Cognito API (DescribeUserPoolClient, JWKS) then serves.

What this adds, and nothing more:
  AWS::Cognito::UserPool               -> CreateUserPool / UpdateUserPool / DeleteUserPool
  AWS::Cognito::UserPoolDomain         -> CreateUserPoolDomain / DeleteUserPoolDomain
  AWS::Cognito::UserPoolResourceServer -> CreateResourceServer / UpdateResourceServer / Delete...
  AWS::Cognito::UserPoolClient         -> CreateUserPoolClient / UpdateUserPoolClient / Delete...
  AWS::Cognito::ManagedLoginBranding   -> accepted as a no-op (moto has no managed login)

and two fixes to moto bugs that real CloudFormation does not have (both marked "moto bug" below):
  - UpdateStack with UsePreviousValue on a parameter that took its template default: HTTP 500;
  - the default of a CommaDelimitedList parameter is not split into a list.

It also models four AWS behaviours moto lacks (marked "AWS behaviour" below):
  - a user pool holds one prefix domain (CreateUserPoolDomain refuses a second), and
    CloudFormation replaces a domain by creating the new one before deleting the old, so a
    changed prefix fails as it does in AWS;
  - a user pool with DeletionProtection ACTIVE refuses DeleteUserPool (API and CloudFormation);
  - a stack whose resources fail to delete ends DELETE_FAILED, with an event naming the resource
    and the reason, and stays listed (moto raised an HTTP error and forgot the stack);
  - deleting a resource that is already gone succeeds, as CloudFormation treats NotFound on
    delete (a domain deleted by hand before a domain-prefix change, say).

Usage: python emulator.py [--port N]   (default: a free port chosen by the OS)
Prints one line "READY http://127.0.0.1:PORT" once it accepts requests, then serves until its
standard input closes (so it never outlives the test process that started it) or SIGTERM.
"""

import argparse
import logging
import os
import signal
import sys
import tempfile
import uuid
from typing import Any

from moto.cloudformation.models import CloudFormationBackend, Event
from moto.cognitoidp.exceptions import InvalidParameterException
from moto.cognitoidp.models import CognitoIdpBackend, cognitoidp_backends
from moto.core.common_models import CloudFormationModel
from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def _backend(account_id: str, region_name: str) -> Any:
    return cognitoidp_backends[account_id][region_name]


# moto files every model under the service named by its module path's second segment (it resets
# their instances with that service), so ours declare themselves part of cognitoidp.
_MODULE = "mcp_auth_kit_emulator.cognitoidp"


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return dict(cloudformation_json.get("Properties") or {})


# moto bug: moto leaves the *default* of a CommaDelimitedList parameter as one unsplit string (values passed
# in are split), so a list property fed from such a default arrives as a string.
_LIST_PROPERTIES = ("CallbackURLs", "LogoutURLs", "AllowedOAuthScopes", "AllowedOAuthFlows",
                    "SupportedIdentityProviders", "ExplicitAuthFlows")


def _client_props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    props = _props(cloudformation_json)
    for key in _LIST_PROPERTIES:
        if isinstance(props.get(key), str):
            props[key] = props[key].split(",")
    return props


class CfnUserPool(CloudFormationModel):
    """AWS::Cognito::UserPool, backed by moto's user pool."""

    __module__ = _MODULE

    def __init__(self, account_id: str, region_name: str, pool: Any):
        self.account_id = account_id
        self.region_name = region_name
        self.pool = pool

    @staticmethod
    def cloudformation_name_type() -> str:
        return "UserPoolName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPool"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

    @property
    def physical_resource_id(self) -> str:
        return self.pool.id

    def get_cfn_attribute(self, attribute_name: str) -> str:
        provider = f"cognito-idp.{self.region_name}.amazonaws.com/{self.pool.id}"
        return {
            "Arn": self.pool.arn,
            "ProviderName": provider,
            "ProviderURL": f"https://{provider}",
            "UserPoolId": self.pool.id,
        }[attribute_name]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = _props(cloudformation_json)
        name = props.pop("UserPoolName", resource_name)
        props.pop("UserPoolTags", None)
        pool = _backend(account_id, region_name).create_user_pool(name, props)
        return cls(account_id, region_name, pool)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        props = _props(cloudformation_json)
        props.pop("UserPoolName", None)
        props.pop("UserPoolTags", None)
        _backend(account_id, region_name).update_user_pool(original_resource.pool.id, props)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_user_pool(self.pool.id)

    def is_created(self) -> bool:
        return True


class CfnUserPoolDomain(CloudFormationModel):
    """AWS::Cognito::UserPoolDomain; Ref is the domain prefix, as in AWS."""

    __module__ = _MODULE

    def __init__(self, domain: Any):
        self.domain = domain

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Domain"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolDomain"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("CloudFrontDistribution", "ManagedLoginVersion")

    @property
    def physical_resource_id(self) -> str:
        return self.domain.domain

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {
            "CloudFrontDistribution": self.domain._distribution(),
            "ManagedLoginVersion": 2,
        }[attribute_name]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = _props(cloudformation_json)
        domain = _backend(account_id, region_name).create_user_pool_domain(
            props["UserPoolId"], props["Domain"], props.get("CustomDomainConfig")
        )
        return cls(domain)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        props = _props(cloudformation_json)
        if props["Domain"] == original_resource.domain.domain:
            return original_resource
        # AWS behaviour: Domain is create-only, and a replacement is created before the old
        # resource is deleted (which fails while the pool still has its old prefix domain).
        replacement = cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )
        original_resource.delete(account_id, region_name)
        return replacement

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        # AWS behaviour: a domain already deleted (by hand) is not an error for CloudFormation.
        if self.domain.domain in backend.user_pool_domains:
            backend.delete_user_pool_domain(self.domain.domain)

    def is_created(self) -> bool:
        return True


class CfnUserPoolResourceServer(CloudFormationModel):
    """AWS::Cognito::UserPoolResourceServer; Ref is the identifier, as in AWS."""

    __module__ = _MODULE

    def __init__(self, server: Any):
        self.server = server

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolResourceServer"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @property
    def physical_resource_id(self) -> str:
        return self.server.identifier

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = _props(cloudformation_json)
        server = _backend(account_id, region_name).create_resource_server(
            props["UserPoolId"], props["Identifier"], props["Name"], props.get("Scopes", [])
        )
        return cls(server)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        props = _props(cloudformation_json)
        server = original_resource.server
        if props["Identifier"] != server.identifier or props["UserPoolId"] != server.user_pool_id:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
        server.name = props["Name"]
        server.scopes = props.get("Scopes", [])
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        pool = _backend(account_id, region_name).user_pools.get(self.server.user_pool_id)
        if pool is not None:
            pool.resource_servers.pop(self.server.identifier, None)

    def is_created(self) -> bool:
        return True


class CfnUserPoolClient(CloudFormationModel):
    """AWS::Cognito::UserPoolClient; Ref is the client id, as in AWS."""

    __module__ = _MODULE

    def __init__(self, client: Any):
        self.client = client

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ClientName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolClient"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("ClientId", "ClientSecret", "Name")

    @property
    def physical_resource_id(self) -> str:
        return self.client.id

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {
            "ClientId": self.client.id,
            "ClientSecret": self.client.secret,
            "Name": self.client.extended_config.get("ClientName"),
        }[attribute_name]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = _client_props(cloudformation_json)
        pool_id = props.pop("UserPoolId")
        generate_secret = str(props.pop("GenerateSecret", False)).lower() == "true"
        props.setdefault("ClientName", resource_name)
        client = _backend(account_id, region_name).create_user_pool_client(
            pool_id, generate_secret, props
        )
        return cls(client)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        props = _client_props(cloudformation_json)
        pool_id = props.pop("UserPoolId")
        generate_secret = str(props.pop("GenerateSecret", False)).lower() == "true"
        client = original_resource.client
        # Changing the pool or the secret setting replaces the client in AWS too.
        if pool_id != client.user_pool_id or generate_secret != client.generate_secret:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
        client.extended_config.update(props)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        pool = _backend(account_id, region_name).user_pools.get(self.client.user_pool_id)
        if pool is not None:
            pool.clients.pop(self.client.id, None)

    def is_created(self) -> bool:
        return True


class CfnManagedLoginBranding(CloudFormationModel):
    """AWS::Cognito::ManagedLoginBranding: moto has no managed login, so this only records the
    request (Ref is a generated branding id, as in AWS) and checks its client exists."""

    __module__ = _MODULE

    def __init__(self, branding_id: str):
        self.branding_id = branding_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::ManagedLoginBranding"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "ManagedLoginBrandingId"

    @property
    def physical_resource_id(self) -> str:
        return self.branding_id

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {"ManagedLoginBrandingId": self.branding_id}[attribute_name]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = _props(cloudformation_json)
        # Fails like AWS does when the pool or client is missing.
        _backend(account_id, region_name).describe_user_pool_client(
            props["UserPoolId"], props["ClientId"]
        )
        return cls(str(uuid.uuid4()))

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        return None

    def is_created(self) -> bool:
        return True


def _resolve_update_parameters(self: Any, instance: Any, incoming_params: list[dict[str, Any]]):
    """moto bug: UsePreviousValue looked only at the parameters passed at create, so a parameter
    that took its default raised KeyError (HTTP 500). AWS uses the stack's resolved values."""
    previous = dict(getattr(instance, "stack_parameters", None) or {})
    previous.update(instance.parameters or {})
    resolved = {}
    for param in incoming_params:
        key = param["ParameterKey"]
        if "ParameterValue" in param:
            resolved[key] = param["ParameterValue"]
        elif param.get("UsePreviousValue", False):
            value = previous[key]
            resolved[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return resolved


CloudFormationBackend._resolve_update_parameters = _resolve_update_parameters


_create_user_pool_domain = CognitoIdpBackend.create_user_pool_domain


def _create_one_prefix_domain(
    self: Any, user_pool_id: str, domain: str, custom_domain_config: Any = None
) -> Any:
    """AWS behaviour: a user pool has at most one prefix domain (and one custom domain)."""
    if not custom_domain_config:
        for existing in self.user_pool_domains.values():
            if existing.user_pool_id == user_pool_id and not existing.custom_domain_config:
                raise InvalidParameterException(
                    f"User pool {user_pool_id} already has a domain configured."
                )
    return _create_user_pool_domain(self, user_pool_id, domain, custom_domain_config)


CognitoIdpBackend.create_user_pool_domain = _create_one_prefix_domain


_delete_user_pool = CognitoIdpBackend.delete_user_pool


def _delete_user_pool_unless_protected(self: Any, user_pool_id: str) -> None:
    """AWS behaviour: deletion protection refuses the deletion until it is made INACTIVE."""
    pool = self.describe_user_pool(user_pool_id)
    if pool.extended_config.get("DeletionProtection") == "ACTIVE":
        raise InvalidParameterException(
            "The user pool cannot be deleted because deletion protection is activated. "
            "Deletion protection must be inactivated first."
        )
    _delete_user_pool(self, user_pool_id)


CognitoIdpBackend.delete_user_pool = _delete_user_pool_unless_protected


_delete_stack = CloudFormationBackend.delete_stack


def _delete_stack_or_fail(self: Any, name_or_stack_id: str) -> None:
    """AWS behaviour: DeleteStack is accepted, and a resource that cannot be deleted leaves the
    stack DELETE_FAILED with an event that names it (moto raised and dropped the stack)."""
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None
    )
    if stack is None:
        return _delete_stack(self, name_or_stack_id)
    try:
        _delete_stack(self, stack.stack_id)
    except Exception as error:  # noqa: BLE001 - any resource failure is reported the same way
        self.deleted_stacks.pop(stack.stack_id, None)
        self.stacks[stack.stack_id] = stack
        reason = getattr(error, "message", None) or str(error)
        for logical_id, resource in stack.resource_map._parsed_resources.items():
            if hasattr(resource, "physical_resource_id") and logical_id in (
                stack.resource_map._resource_json_map
            ):
                stack.events.append(
                    Event(
                        stack_id=stack.stack_id,
                        stack_name=stack.name,
                        logical_resource_id=logical_id,
                        physical_resource_id=resource.physical_resource_id,
                        resource_type=stack.resource_map._resource_json_map[logical_id]["Type"],
                        resource_status="DELETE_FAILED",
                        resource_status_reason=reason,
                        resource_properties=None,
                    )
                )
        stack.status = "DELETE_FAILED"
        stack._add_stack_event(
            "DELETE_FAILED", resource_status_reason=f"The following resource(s) failed to delete: {reason}"
        )


CloudFormationBackend.delete_stack = _delete_stack_or_fail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    # moto's ValidateTemplate writes a scratch file into the working directory.
    os.chdir(tempfile.mkdtemp(prefix="mcp-auth-kit-emulator-"))

    # One access-log line per request would drown the test output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"READY http://{host}:{port}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # Serve until the parent closes our stdin (or dies, which closes it too).
        while sys.stdin.read(1):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
