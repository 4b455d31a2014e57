// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProvaReceipts} from "./ProvaReceipts.sol";
import {NodeRegistry} from "./NodeRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {IProvaConsumer} from "./IProvaConsumer.sol";

interface IReceiptDomain {
    function domainSeparator() external view returns (bytes32);
}

/// @title InferenceRequests
/// @notice Contract-callable inference. A contract pays a fee and requests an inference of a registered
///         model on an input (the canonical tensor bytes, checked against inputHash with sha256, or only the
///         hash plus a URI). Anyone may then fulfil it with the receipt(s) of active staked nodes — signed
///         under the Settlement contract's EIP-712 domain, with requestId = the on-chain request id — and
///         the output; the contract checks every signature, pays the nodes and calls back the consumer.
contract InferenceRequests {
    enum Status {
        None,
        Pending,
        Fulfilled,
        Cancelled
    }

    struct Request {
        address consumer;
        uint40 createdAt;
        uint8 quorum; // receipts needed: 1 for "attested" and "proof", K for "quorum:K"
        Status status;
        bytes32 model;
        bytes32 inputHash;
        uint256 fee;
        bytes32 outputHash;
        bytes32 modeHash;
    }

    uint256 public constant MAX_INPUT_BYTES = 64 * 1024;
    uint256 public constant MAX_OUTPUT_BYTES = 64 * 1024;
    uint256 public constant MAX_URI_LENGTH = 1024;
    uint8 public constant MAX_QUORUM = 16;

    NodeRegistry public immutable nodes;
    ModelRegistry public immutable models;
    /// @notice The Settlement contract whose EIP-712 domain receipts are signed under.
    address public immutable settlement;
    uint64 public immutable timeout; // after this, the consumer may cancel an unfulfilled request
    uint32 public immutable callbackGasLimit;

    uint256 public requestCount;
    mapping(bytes32 requestId => Request) private _requests;

    event InferenceRequested(
        bytes32 indexed requestId,
        address indexed consumer,
        bytes32 indexed model,
        bytes32 inputHash,
        string mode,
        uint256 fee,
        bytes input,
        string inputURI
    );
    /// @notice One per accepted receipt: with the request's fields it rebuilds the signed receipt (evidence).
    event ReceiptAccepted(bytes32 indexed requestId, address indexed node, uint64 timestamp, bytes signature);
    event InferenceFulfilled(
        bytes32 indexed requestId, bytes32 outputHash, address[] nodes, bool callbackOk, bytes output
    );
    event InferenceCancelled(bytes32 indexed requestId);

    error UnknownModel(bytes32 model);
    error UnsupportedMode(string mode);
    error InputTooLarge(uint256 length);
    error OutputTooLarge(uint256 length);
    error UriTooLong(uint256 length);
    error InputHashMismatch(bytes32 computed, bytes32 expected);
    error OutputHashMismatch(bytes32 computed, bytes32 expected);
    error NoInput();
    error NotPending(bytes32 requestId);
    error WrongReceiptCount(uint256 given, uint256 required);
    error ReceiptMismatch(uint256 index);
    error WrongChain(uint256 chainId);
    error NotActiveNode(address node);
    error NodesNotAscending(uint256 index);
    error BadSigner(address recovered, address node);
    error NotConsumer(address caller);
    error NotExpired(uint64 expiresAt);
    error NotEnoughGas();
    error TransferFailed();

    constructor(NodeRegistry nodes_, ModelRegistry models_, address settlement_, uint64 timeout_, uint32 callbackGasLimit_) {
        nodes = nodes_;
        models = models_;
        settlement = settlement_;
        timeout = timeout_;
        callbackGasLimit = callbackGasLimit_;
    }

    /// @notice Requests an inference of `model` (a registered CID digest) for the caller, paying `msg.value`.
    ///         Give `input` (canonical tensor bytes; sha256(input) must equal inputHash) or leave it empty and
    ///         give `inputURI` where nodes fetch it. `mode` is "attested", "proof" or "quorum:K" (2 ≤ K ≤ 16).
    function request(bytes32 model, bytes32 inputHash, bytes calldata input, string calldata inputURI, string calldata mode)
        external
        payable
        returns (bytes32 requestId)
    {
        if (!models.isRegistered(model)) revert UnknownModel(model);
        if (input.length > MAX_INPUT_BYTES) revert InputTooLarge(input.length);
        if (bytes(inputURI).length > MAX_URI_LENGTH) revert UriTooLong(bytes(inputURI).length);
        if (input.length > 0) {
            bytes32 h = sha256(input);
            if (h != inputHash) revert InputHashMismatch(h, inputHash);
        } else if (bytes(inputURI).length == 0) {
            revert NoInput();
        }
        uint8 quorum = parseMode(mode);
        requestId = keccak256(abi.encode(block.chainid, address(this), ++requestCount));
        _requests[requestId] = Request({
            consumer: msg.sender,
            createdAt: uint40(block.timestamp),
            quorum: quorum,
            status: Status.Pending,
            model: model,
            inputHash: inputHash,
            fee: msg.value,
            outputHash: bytes32(0),
            modeHash: keccak256(bytes(mode))
        });
        emit InferenceRequested(requestId, msg.sender, model, inputHash, mode, msg.value, input, inputURI);
    }

    /// @notice Fulfils `requestId` with `quorum` receipts from distinct active nodes (sorted by ascending
    ///         node address) that all match the request and agree on the output hash; `output` is the
    ///         canonical output bytes (or empty). Pays the fee split equally among the nodes and calls the
    ///         consumer back with callbackGasLimit gas (a failing callback does not undo the fulfilment).
    function fulfil(
        bytes32 requestId,
        ProvaReceipts.Receipt[] calldata receipts,
        bytes[] calldata signatures,
        bytes calldata output
    ) external {
        Request storage q = _requests[requestId];
        if (q.status != Status.Pending) revert NotPending(requestId);
        if (receipts.length != q.quorum || signatures.length != q.quorum) {
            revert WrongReceiptCount(receipts.length, q.quorum);
        }
        if (output.length > MAX_OUTPUT_BYTES) revert OutputTooLarge(output.length);
        bytes32 outputHash = receipts[0].outputHash;
        if (output.length > 0) {
            bytes32 h = sha256(output);
            if (h != outputHash) revert OutputHashMismatch(h, outputHash);
        }
        bytes32 domain = IReceiptDomain(settlement).domainSeparator();
        address[] memory signers = new address[](receipts.length);
        for (uint256 i = 0; i < receipts.length; i++) {
            ProvaReceipts.Receipt calldata r = receipts[i];
            if (
                r.requestId != requestId || r.model != q.model || r.inputHash != q.inputHash
                    || r.outputHash != outputHash || keccak256(bytes(r.mode)) != q.modeHash
            ) revert ReceiptMismatch(i);
            if (r.chainId != block.chainid) revert WrongChain(r.chainId);
            if (i > 0 && r.node <= signers[i - 1]) revert NodesNotAscending(i);
            if (!nodes.isActive(r.node)) revert NotActiveNode(r.node);
            address signer = ProvaReceipts.recover(ProvaReceipts.digest(domain, r), signatures[i]);
            if (signer != r.node) revert BadSigner(signer, r.node);
            signers[i] = signer;
            emit ReceiptAccepted(requestId, signer, r.timestamp, signatures[i]);
        }
        q.status = Status.Fulfilled;
        q.outputHash = outputHash;

        uint256 fee = q.fee;
        if (fee > 0) {
            uint256 each = fee / signers.length;
            for (uint256 i = 0; i < signers.length; i++) {
                // The first node also gets the division dust.
                _send(signers[i], i == 0 ? fee - each * (signers.length - 1) : each);
            }
        }

        // Make sure the callback really gets callbackGasLimit (EIP-150 passes on at most 63/64).
        if (gasleft() < uint256(callbackGasLimit) * 64 / 63 + 10_000) revert NotEnoughGas();
        bool ok;
        try IProvaConsumer(q.consumer).onInferenceResult{gas: callbackGasLimit}(requestId, outputHash, output) {
            ok = true;
        } catch {
            ok = false;
        }
        emit InferenceFulfilled(requestId, outputHash, signers, ok, output);
    }

    /// @notice The consumer takes back the fee of a request nobody fulfilled within `timeout`.
    function cancel(bytes32 requestId) external {
        Request storage q = _requests[requestId];
        if (q.status != Status.Pending) revert NotPending(requestId);
        if (msg.sender != q.consumer) revert NotConsumer(msg.sender);
        uint64 expiresAt = uint64(q.createdAt) + timeout;
        if (block.timestamp < expiresAt) revert NotExpired(expiresAt);
        q.status = Status.Cancelled;
        emit InferenceCancelled(requestId);
        if (q.fee > 0) _send(msg.sender, q.fee);
    }

    function getRequest(bytes32 requestId) external view returns (Request memory) {
        return _requests[requestId];
    }

    /// @notice Receipts a mode needs: "attested" and "proof" → 1, "quorum:K" → K (2..16); else reverts.
    function parseMode(string calldata mode) public pure returns (uint8) {
        bytes calldata m = bytes(mode);
        if (keccak256(m) == keccak256("attested") || keccak256(m) == keccak256("proof")) return 1;
        if (m.length < 8 || m.length > 9 || keccak256(m[:7]) != keccak256("quorum:")) revert UnsupportedMode(mode);
        uint256 k;
        for (uint256 i = 7; i < m.length; i++) {
            uint8 c = uint8(m[i]);
            if (c < 48 || c > 57) revert UnsupportedMode(mode);
            k = k * 10 + (c - 48);
        }
        if (k < 2 || k > MAX_QUORUM || (m.length == 9 && m[7] == "0")) revert UnsupportedMode(mode);
        return uint8(k);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
