"""What a carec-edge certificate says about whom: subject names, alternative names, and reading a
node id back out of a certificate or CSR (its CN, its `urn:carec:node:` URI and its C agree)."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from provisioning.identity.errors import InvalidNodeIdError
from provisioning.identity.node_id import URN_PREFIX, NodeId

ORGANIZATION = "carec-edge"


def ca_common_name(country: str) -> str:
    return f"carec-edge fleet CA {country}"


def ca_subject(country: str) -> x509.Name:
    return _name(country, ca_common_name(country))


def node_subject(node_id: NodeId) -> x509.Name:
    return _name(node_id.country, str(node_id))


def node_alt_names(node_id: NodeId) -> list[x509.GeneralName]:
    return [x509.UniformResourceIdentifier(node_id.urn), x509.DNSName(node_id.dns_name)]


def node_id_of(
    document: x509.Certificate | x509.CertificateSigningRequest, *, require_urn: bool = False
) -> NodeId:
    """The node id a certificate or CSR names; InvalidNodeIdError when its names disagree (or,
    with `require_urn`, when it lacks the node's URI)."""
    common_names = _attributes(document.subject, NameOID.COMMON_NAME)
    if len(common_names) != 1:
        raise InvalidNodeIdError(f"subject {document.subject.rfc4514_string()!r} needs one CN")
    node_id = NodeId.parse(common_names[0])
    countries = _attributes(document.subject, NameOID.COUNTRY_NAME)
    if countries and countries != [node_id.country]:
        raise InvalidNodeIdError(f"subject country {countries} disagrees with node id {node_id}")
    urns = [uri for uri in _uris(document) if uri.startswith(URN_PREFIX)]
    if (urns or require_urn) and urns != [node_id.urn]:
        raise InvalidNodeIdError(f"alternative name {urns} disagrees with CN {node_id}")
    return node_id


def country_of(name: x509.Name) -> str | None:
    countries = _attributes(name, NameOID.COUNTRY_NAME)
    return countries[0] if len(countries) == 1 else None


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _attributes(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def _uris(document: x509.Certificate | x509.CertificateSigningRequest) -> list[str]:
    try:
        extension = document.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return extension.value.get_values_for_type(x509.UniformResourceIdentifier)
