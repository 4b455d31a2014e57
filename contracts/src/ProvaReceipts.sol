// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ProvaReceipts
/// @notice The EIP-712 receipt a Prova node signs for every inference (docs/receipts.md), its digest,
///         signature recovery (low-s only) and the receipt-batch Merkle rule (docs/settlement.md).
library ProvaReceipts {
    /// @dev Exactly the members and order of docs/receipts.md.
    struct Receipt {
        bytes32 model;
        bytes32 inputHash;
        bytes32 outputHash;
        string mode;
        bytes32 requestId;
        address node;
        uint64 timestamp;
        uint256 chainId;
    }

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(bytes32 model,bytes32 inputHash,bytes32 outputHash,string mode,bytes32 requestId,address node,uint64 timestamp,uint256 chainId)"
    );
    /// @dev A client's payment voucher: the total it has authorised `node` to take from its escrow so far.
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256("Voucher(address client,address node,uint256 cumulative)");
    bytes32 internal constant NAME_HASH = keccak256("Prova");
    bytes32 internal constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1n / 2: signatures with a larger s are malleable twins and are rejected.
    uint256 internal constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    /// @dev A proof longer than this cannot belong to a batch of at most 2^32 receipts.
    uint256 internal constant MAX_PROOF_LENGTH = 32;

    error BadSignatureLength(uint256 length);
    error HighS();
    error BadV(uint8 v);
    error InvalidSignature();
    error ProofTooLong(uint256 length);

    function domainSeparator(address verifyingContract) internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, verifyingContract));
    }

    function hashStruct(Receipt calldata r) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECEIPT_TYPEHASH,
                r.model,
                r.inputHash,
                r.outputHash,
                keccak256(bytes(r.mode)),
                r.requestId,
                r.node,
                r.timestamp,
                r.chainId
            )
        );
    }

    /// @notice The receipt's EIP-712 signing hash under `domain`.
    function digest(bytes32 domain, Receipt calldata r) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", domain, hashStruct(r)));
    }

    function voucherDigest(bytes32 domain, address client, address node, uint256 cumulative)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encodePacked(hex"1901", domain, keccak256(abi.encode(VOUCHER_TYPEHASH, client, node, cumulative)))
        );
    }

    /// @notice Recovers the signer of `hash` from a 65-byte r ‖ s ‖ v signature (v ∈ {27, 28} or {0, 1}).
    ///         Reverts on a malformed signature, a high s or a signature that recovers to nobody.
    function recover(bytes32 hash, bytes calldata signature) internal pure returns (address signer) {
        if (signature.length != 65) revert BadSignatureLength(signature.length);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 32))
            v := byte(0, calldataload(add(signature.offset, 64)))
        }
        if (uint256(s) > HALF_ORDER) revert HighS();
        if (v < 27) v += 27;
        if (v != 27 && v != 28) revert BadV(v);
        signer = ecrecover(hash, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
    }

    /// @notice Batch leaf of a receipt: keccak256 of its EIP-712 digest.
    function leaf(bytes32 receiptDigest) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(receiptDigest));
    }

    /// @notice Sorted-pair inner node: keccak256(min(a,b) ‖ max(a,b)).
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32 h) {
        (bytes32 lo, bytes32 hi) = a < b ? (a, b) : (b, a);
        assembly {
            mstore(0x00, lo)
            mstore(0x20, hi)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @notice True when `leafHash` with `proof` (siblings bottom-up; levels where the node was promoted
    ///         have no sibling) folds to `root`.
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leafHash) internal pure returns (bool) {
        if (proof.length > MAX_PROOF_LENGTH) revert ProofTooLong(proof.length);
        bytes32 h = leafHash;
        for (uint256 i = 0; i < proof.length; i++) {
            h = hashPair(h, proof[i]);
        }
        return h == root;
    }
}
