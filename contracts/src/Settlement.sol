// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProvaReceipts} from "./ProvaReceipts.sol";
import {NodeRegistry} from "./NodeRegistry.sol";

/// @title Settlement
/// @notice Client escrow and voucher payments, batched receipt roots, bonded challenges, conflicting-receipt
///         evidence, committee votes and slashing. Protocol: docs/settlement.md.
contract Settlement {
    enum BatchStatus {
        None,
        Open, // posted; challengeable until postedAt + challengeWindow
        Collected, // fee paid to the node
        Voided // a challenge proved a receipt false: the fee went back to the client
    }

    enum ChallengeKind {
        Bonded, // one receipt of a posted batch, with a bond
        Conflict // two receipts that disagree, without a bond
    }

    enum Verdict {
        Pending,
        NodeLied, // at least one accused node was slashed
        ChallengeFailed, // the committee confirmed the receipt (or could not re-execute): bond forfeited
        Inconclusive // no majority by the deadline: bond returned, nobody slashed
    }

    struct Batch {
        address node;
        uint40 postedAt;
        uint32 count;
        BatchStatus status;
        uint16 openChallenges;
        bytes32 root;
        address client;
        uint96 fee;
    }

    struct Escrow {
        uint128 balance;
        uint128 pending;
        uint64 unlockAt;
    }

    struct Challenge {
        ChallengeKind kind;
        Verdict verdict;
        address challenger;
        uint64 deadline;
        uint256 batchId;
        uint256 bond;
        bytes32 model;
        bytes32 inputHash;
        bytes32 majorityOutput;
        address[] accused;
        bytes32[] claimedOutputs;
        address[] committee;
    }

    uint256 public constant MAX_COMMITTEE = 21;
    uint256 public constant BPS = 10_000;

    NodeRegistry public immutable registry;
    address public immutable treasury; // zero: the burned share stays locked in this contract forever
    uint64 public immutable challengeWindow;
    uint64 public immutable votingPeriod;
    uint64 public immutable escrowWithdrawDelay;
    uint256 public immutable challengeBond;
    uint16 public immutable slashBps; // share of a liar's slashable stake taken per proven lie
    uint16 public immutable challengerBps; // share of the slashed amount paid to the challenger
    uint16 public immutable committeeBps; // share of the slashed amount (or forfeited bond) paid to the majority voters
    uint8 public immutable committeeSize;

    bytes32 private immutable _cachedDomain;
    uint256 private immutable _cachedChainId;

    uint256 public batchCount;
    uint256 public challengeCount;
    uint256 public totalBurned;
    mapping(uint256 batchId => Batch) private _batches;
    mapping(uint256 challengeId => Challenge) private _challenges;
    mapping(uint256 challengeId => mapping(address member => bytes32 output)) public voteOf;
    mapping(uint256 challengeId => mapping(address member => bool)) public hasVoted;
    mapping(uint256 challengeId => uint256) public voteCount;
    /// @notice Receipt digest → the challenge that disputes it (each receipt can be disputed once).
    mapping(bytes32 receiptDigest => uint256 challengeId) public challengeOfReceipt;
    /// @notice Unresolved challenges accusing a node; its stake cannot be withdrawn while this is non-zero.
    mapping(address node => uint256) public openChallengesAgainst;
    mapping(address client => Escrow) private _escrows;
    /// @notice Cumulative amount paid from `client`'s escrow to `node` through vouchers.
    mapping(address client => mapping(address node => uint256)) public paid;
    /// @notice Pull payments: rewards, returned and forfeited bonds, challenger shares.
    mapping(address account => uint256) public credits;

    event Deposited(address indexed client, uint256 amount, uint256 balance);
    event WithdrawalRequested(address indexed client, uint256 amount, uint64 unlockAt);
    event Withdrawn(address indexed client, uint256 amount);
    event BatchPosted(
        uint256 indexed batchId, address indexed node, address indexed client, bytes32 root, uint32 count, uint256 fee
    );
    event FeesCollected(uint256 indexed batchId, address indexed node, uint256 fee);
    event BatchVoided(uint256 indexed batchId, address indexed client, uint256 refunded);
    event ChallengeOpened(
        uint256 indexed challengeId,
        uint256 indexed batchId,
        address indexed challenger,
        ChallengeKind kind,
        bytes32 model,
        bytes32 inputHash,
        address[] accused,
        bytes32[] claimedOutputs,
        uint64 deadline,
        string inputURI
    );
    event CommitteeSelected(uint256 indexed challengeId, address[] committee, bytes32 seed);
    event Voted(uint256 indexed challengeId, address indexed member, bytes32 outputHash);
    event ChallengeResolved(uint256 indexed challengeId, Verdict verdict, bytes32 majorityOutput);
    event NodeSlashed(
        uint256 indexed challengeId,
        address indexed node,
        uint256 amount,
        uint256 toChallenger,
        uint256 toCommittee,
        uint256 burned
    );
    event Equivocation(address indexed node, bytes32 receiptA, bytes32 receiptB, address indexed reporter);
    event Credited(address indexed account, uint256 amount);
    event CreditsWithdrawn(address indexed account, uint256 amount);

    error BadParameters();
    error ZeroAmount();
    error AmountTooLarge();
    error InsufficientEscrow(uint256 needed, uint256 balance);
    error StillLocked(uint64 unlockAt);
    error NothingToWithdraw();
    error TransferFailed();
    error NotActiveNode(address node);
    error EmptyBatch();
    error ZeroRoot();
    error VoucherBelowPaid(uint256 cumulative, uint256 alreadyPaid);
    error BadVoucher(address signer, address client);
    error UnknownBatch(uint256 batchId);
    error ChallengeWindowClosed(uint256 batchId);
    error ChallengeWindowOpen(uint256 batchId);
    error BatchNotOpen(uint256 batchId);
    error BatchUnderChallenge(uint256 batchId);
    error NotBatchNode(uint256 batchId);
    error WrongBond(uint256 sent, uint256 required);
    error WrongNode(address receiptNode, address batchNode);
    error WrongChain(uint256 receiptChainId);
    error BadSigner(address recovered, address node);
    error NotInBatch();
    error AlreadyDisputed(bytes32 receiptDigest);
    error NotConflicting();
    error NoCommittee();
    error UnknownChallenge(uint256 challengeId);
    error NotCommitteeMember(address caller);
    error AlreadyVoted(address member);
    error VotingClosed(uint256 challengeId);
    error VotingOpen(uint256 challengeId);
    error AlreadyResolved(uint256 challengeId);
    error OnlyRegistry();

    constructor(
        NodeRegistry registry_,
        address treasury_,
        uint64 challengeWindow_,
        uint64 votingPeriod_,
        uint64 escrowWithdrawDelay_,
        uint256 challengeBond_,
        uint16 slashBps_,
        uint16 challengerBps_,
        uint16 committeeBps_,
        uint8 committeeSize_
    ) {
        if (
            address(registry_) == address(0) || challengeWindow_ == 0 || votingPeriod_ == 0 || challengeBond_ == 0
                || slashBps_ == 0 || slashBps_ > BPS || uint256(challengerBps_) + committeeBps_ > BPS
                || committeeSize_ == 0 || committeeSize_ > MAX_COMMITTEE
                || registry_.unbondingDelay() < uint256(challengeWindow_) + votingPeriod_
        ) revert BadParameters();
        registry = registry_;
        treasury = treasury_;
        challengeWindow = challengeWindow_;
        votingPeriod = votingPeriod_;
        escrowWithdrawDelay = escrowWithdrawDelay_;
        challengeBond = challengeBond_;
        slashBps = slashBps_;
        challengerBps = challengerBps_;
        committeeBps = committeeBps_;
        committeeSize = committeeSize_;
        _cachedChainId = block.chainid;
        _cachedDomain = ProvaReceipts.domainSeparator(address(this));
    }

    /// @notice Slashed stake arrives from the registry.
    receive() external payable {
        if (msg.sender != address(registry)) revert OnlyRegistry();
    }

    // ---------------------------------------------------------------- EIP-712

    /// @notice The EIP-712 domain separator of receipts and vouchers ("Prova", "1", chain id, this contract).
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomain : ProvaReceipts.domainSeparator(address(this));
    }

    /// @notice A receipt's EIP-712 signing hash (what the node signed).
    function receiptDigest(ProvaReceipts.Receipt calldata r) external view returns (bytes32) {
        return ProvaReceipts.digest(domainSeparator(), r);
    }

    /// @notice The signing hash of a client's voucher.
    function voucherDigest(address client, address node, uint256 cumulative) external view returns (bytes32) {
        return ProvaReceipts.voucherDigest(domainSeparator(), client, node, cumulative);
    }

    // ---------------------------------------------------------------- client escrow

    /// @notice Adds `msg.value` to the caller's escrow.
    function deposit() external payable {
        if (msg.value == 0) revert ZeroAmount();
        Escrow storage e = _escrows[msg.sender];
        uint256 balance = uint256(e.balance) + msg.value;
        if (balance > type(uint96).max) revert AmountTooLarge();
        e.balance = uint128(balance);
        emit Deposited(msg.sender, msg.value, balance);
    }

    /// @notice Asks to withdraw `amount`; after escrowWithdrawDelay, withdraw() pays what is still there.
    ///         The amount stays spendable by vouchers until withdrawn (nodes get the delay to post).
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Escrow storage e = _escrows[msg.sender];
        if (amount > e.balance) revert InsufficientEscrow(amount, e.balance);
        uint64 unlockAt = uint64(block.timestamp) + escrowWithdrawDelay;
        e.pending = uint128(amount);
        e.unlockAt = unlockAt;
        emit WithdrawalRequested(msg.sender, amount, unlockAt);
    }

    function withdraw() external {
        Escrow storage e = _escrows[msg.sender];
        if (e.pending == 0) revert NothingToWithdraw();
        if (block.timestamp < e.unlockAt) revert StillLocked(e.unlockAt);
        uint256 amount = e.pending < e.balance ? e.pending : e.balance;
        e.pending = 0;
        e.balance -= uint128(amount);
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    function escrowOf(address client) external view returns (uint256 balance, uint256 pending, uint64 unlockAt) {
        Escrow storage e = _escrows[client];
        return (e.balance, e.pending, e.unlockAt);
    }

    // ---------------------------------------------------------------- batches and fees

    /// @notice Posts the Merkle root of `count` receipts signed by the caller (an active node). With a
    ///         non-zero `client`, `voucher` is the client's EIP-712 signature over
    ///         Voucher(client, node = caller, cumulative); the batch's fee is `cumulative` minus what the
    ///         client already paid this node, reserved from the client's escrow now and paid after the window.
    function postBatch(bytes32 root, uint32 count, address client, uint256 cumulative, bytes calldata voucher)
        external
        returns (uint256 batchId)
    {
        if (!registry.isActive(msg.sender)) revert NotActiveNode(msg.sender);
        if (count == 0) revert EmptyBatch();
        if (root == bytes32(0)) revert ZeroRoot();
        uint256 fee;
        if (client != address(0)) {
            uint256 already = paid[client][msg.sender];
            if (cumulative < already) revert VoucherBelowPaid(cumulative, already);
            fee = cumulative - already;
            if (fee > 0) {
                address signer = ProvaReceipts.recover(
                    ProvaReceipts.voucherDigest(domainSeparator(), client, msg.sender, cumulative), voucher
                );
                if (signer != client) revert BadVoucher(signer, client);
                Escrow storage e = _escrows[client];
                if (fee > e.balance) revert InsufficientEscrow(fee, e.balance);
                e.balance -= uint128(fee);
                paid[client][msg.sender] = cumulative;
            }
        }
        batchId = ++batchCount;
        _batches[batchId] = Batch({
            node: msg.sender,
            postedAt: uint40(block.timestamp),
            count: count,
            status: BatchStatus.Open,
            openChallenges: 0,
            root: root,
            client: client,
            fee: uint96(fee)
        });
        emit BatchPosted(batchId, msg.sender, client, root, count, fee);
    }

    /// @notice Pays the caller the fees of its batches whose window has passed without an open challenge.
    function collectFees(uint256[] calldata batchIds) external returns (uint256 total) {
        for (uint256 i = 0; i < batchIds.length; i++) {
            uint256 id = batchIds[i];
            Batch storage b = _batches[id];
            if (b.status != BatchStatus.Open) revert BatchNotOpen(id);
            if (b.node != msg.sender) revert NotBatchNode(id);
            if (block.timestamp < uint256(b.postedAt) + challengeWindow) revert ChallengeWindowOpen(id);
            if (b.openChallenges != 0) revert BatchUnderChallenge(id);
            b.status = BatchStatus.Collected;
            total += b.fee;
            emit FeesCollected(id, msg.sender, b.fee);
        }
        if (total > 0) _send(msg.sender, total);
    }

    function getBatch(uint256 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    // ---------------------------------------------------------------- challenges

    /// @notice Challenges one receipt of batch `batchId` within its window, with exactly `challengeBond`.
    ///         The receipt must be signed (low-s) by the batch's node for this chain and included in the
    ///         batch's root. `inputURI` tells the committee where to fetch the inputs (they must hash to
    ///         r.inputHash). A stake-weighted committee (without the node and the challenger) then votes.
    function challenge(
        uint256 batchId,
        ProvaReceipts.Receipt calldata r,
        bytes calldata signature,
        bytes32[] calldata proof,
        string calldata inputURI
    ) external payable returns (uint256 challengeId) {
        Batch storage b = _batches[batchId];
        if (b.status == BatchStatus.None) revert UnknownBatch(batchId);
        if (block.timestamp >= uint256(b.postedAt) + challengeWindow) revert ChallengeWindowClosed(batchId);
        if (msg.value != challengeBond) revert WrongBond(msg.value, challengeBond);
        if (r.node != b.node) revert WrongNode(r.node, b.node);
        bytes32 d = _checkedDigest(r, signature);
        if (!ProvaReceipts.verify(proof, b.root, ProvaReceipts.leaf(d))) revert NotInBatch();
        b.openChallenges += 1;
        address[] memory accused = new address[](1);
        bytes32[] memory claimed = new bytes32[](1);
        accused[0] = r.node;
        claimed[0] = r.outputHash;
        challengeId = _open(ChallengeKind.Bonded, batchId, r, accused, claimed, d, inputURI);
    }

    /// @notice Two validly signed receipts for the same model, inputHash and requestId with different
    ///         outputHash. From one node, that is equivocation (a deterministic engine cannot give both):
    ///         the node is slashed at once and 0 is returned. From two nodes, a committee decides which one
    ///         lied; no bond is needed.
    function reportConflict(
        ProvaReceipts.Receipt calldata a,
        bytes calldata sigA,
        ProvaReceipts.Receipt calldata b,
        bytes calldata sigB,
        string calldata inputURI
    ) external returns (uint256 challengeId) {
        if (a.model != b.model || a.inputHash != b.inputHash || a.requestId != b.requestId
                || a.outputHash == b.outputHash) revert NotConflicting();
        return _conflict(a, _checkedDigest(a, sigA), b, _checkedDigest(b, sigB), inputURI);
    }

    /// @notice A committee member's vote: the output hash it computed by re-executing the model on the
    ///         challenge's inputs (bytes32(0): it could not get inputs that hash to inputHash).
    function vote(uint256 challengeId, bytes32 outputHash) external {
        Challenge storage c = _challenge(challengeId);
        if (c.verdict != Verdict.Pending) revert AlreadyResolved(challengeId);
        if (block.timestamp >= c.deadline) revert VotingClosed(challengeId);
        if (!_isMember(c.committee, msg.sender)) revert NotCommitteeMember(msg.sender);
        if (hasVoted[challengeId][msg.sender]) revert AlreadyVoted(msg.sender);
        hasVoted[challengeId][msg.sender] = true;
        voteOf[challengeId][msg.sender] = outputHash;
        voteCount[challengeId] += 1;
        emit Voted(challengeId, msg.sender, outputHash);
    }

    /// @notice Applies the committee's verdict once every member voted or the deadline passed. Anyone can call.
    function resolve(uint256 challengeId) external returns (Verdict verdict) {
        Challenge storage c = _challenge(challengeId);
        if (c.verdict != Verdict.Pending) revert AlreadyResolved(challengeId);
        if (voteCount[challengeId] < c.committee.length && block.timestamp < c.deadline) {
            revert VotingOpen(challengeId);
        }
        (bool hasMajority, bytes32 majority) = _majority(challengeId, c.committee);
        address[] memory winners;
        if (hasMajority) winners = _votersFor(challengeId, c.committee, majority);

        for (uint256 i = 0; i < c.accused.length; i++) {
            openChallengesAgainst[c.accused[i]] -= 1;
        }
        if (c.kind == ChallengeKind.Bonded) _batches[c.batchId].openChallenges -= 1;

        if (!hasMajority || (majority == bytes32(0) && c.kind == ChallengeKind.Conflict)) {
            verdict = Verdict.Inconclusive;
            _credit(c.challenger, c.bond);
        } else {
            bool lied;
            for (uint256 i = 0; i < c.accused.length; i++) {
                if (majority != bytes32(0) && c.claimedOutputs[i] != majority) {
                    lied = true;
                    _slashAndPay(challengeId, c.accused[i], c.challenger, winners);
                }
            }
            if (lied) {
                verdict = Verdict.NodeLied;
                _credit(c.challenger, c.bond);
                if (c.kind == ChallengeKind.Bonded) _voidBatch(c.batchId);
            } else {
                // The receipt stood (or the challenger's inputs could not be used): the bond is forfeited,
                // committeeBps of it to the majority voters, the rest to the accused node.
                verdict = Verdict.ChallengeFailed;
                uint256 toCommittee = _payCommittee(winners, c.bond * committeeBps / BPS);
                _credit(c.accused[0], c.bond - toCommittee);
            }
        }
        c.verdict = verdict;
        c.majorityOutput = majority;
        emit ChallengeResolved(challengeId, verdict, majority);
    }

    /// @notice Pays out the caller's credits (rewards, bonds, challenger shares).
    function withdrawCredits() external returns (uint256 amount) {
        amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        emit CreditsWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    function getChallenge(uint256 challengeId) external view returns (Challenge memory) {
        return _challenges[challengeId];
    }

    function committeeOf(uint256 challengeId) external view returns (address[] memory) {
        return _challenges[challengeId].committee;
    }

    function isCommitteeMember(uint256 challengeId, address member) external view returns (bool) {
        return _isMember(_challenges[challengeId].committee, member);
    }

    // ---------------------------------------------------------------- internals

    function _checkedDigest(ProvaReceipts.Receipt calldata r, bytes calldata signature)
        private
        view
        returns (bytes32 d)
    {
        if (r.chainId != block.chainid) revert WrongChain(r.chainId);
        d = ProvaReceipts.digest(domainSeparator(), r);
        address signer = ProvaReceipts.recover(d, signature);
        if (signer != r.node) revert BadSigner(signer, r.node);
    }

    function _conflict(
        ProvaReceipts.Receipt calldata a,
        bytes32 da,
        ProvaReceipts.Receipt calldata b,
        bytes32 db,
        string calldata inputURI
    ) private returns (uint256 challengeId) {
        if (a.node == b.node) {
            if (challengeOfReceipt[da] != 0) revert AlreadyDisputed(da);
            if (challengeOfReceipt[db] != 0) revert AlreadyDisputed(db);
            challengeOfReceipt[da] = type(uint256).max;
            challengeOfReceipt[db] = type(uint256).max;
            emit Equivocation(a.node, da, db, msg.sender);
            _slashAndPay(0, a.node, msg.sender, new address[](0));
            return 0;
        }
        address[] memory accused = new address[](2);
        bytes32[] memory claimed = new bytes32[](2);
        accused[0] = a.node;
        accused[1] = b.node;
        claimed[0] = a.outputHash;
        claimed[1] = b.outputHash;
        challengeId = _open(ChallengeKind.Conflict, 0, a, accused, claimed, da, inputURI);
        if (challengeOfReceipt[db] != 0) revert AlreadyDisputed(db);
        challengeOfReceipt[db] = challengeId;
    }

    function _open(
        ChallengeKind kind,
        uint256 batchId,
        ProvaReceipts.Receipt calldata r,
        address[] memory accused,
        bytes32[] memory claimed,
        bytes32 receiptDigest_,
        string calldata inputURI
    ) private returns (uint256 challengeId) {
        if (challengeOfReceipt[receiptDigest_] != 0) revert AlreadyDisputed(receiptDigest_);
        challengeId = ++challengeCount;
        challengeOfReceipt[receiptDigest_] = challengeId;
        Challenge storage c = _challenges[challengeId];
        c.kind = kind;
        c.challenger = msg.sender;
        c.deadline = uint64(block.timestamp) + votingPeriod;
        c.batchId = batchId;
        c.bond = msg.value;
        c.model = r.model;
        c.inputHash = r.inputHash;
        c.accused = accused;
        c.claimedOutputs = claimed;
        for (uint256 i = 0; i < accused.length; i++) {
            openChallengesAgainst[accused[i]] += 1;
        }
        bytes32 seed = keccak256(abi.encode(block.prevrandao, blockhash(block.number - 1), challengeId, receiptDigest_));
        address[] memory committee = _selectCommittee(seed, accused, msg.sender);
        if (committee.length == 0) revert NoCommittee();
        c.committee = committee;
        emit ChallengeOpened(
            challengeId, batchId, msg.sender, kind, r.model, r.inputHash, accused, claimed, c.deadline, inputURI
        );
        emit CommitteeSelected(challengeId, committee, seed);
    }

    /// @dev Stake-weighted sampling without replacement over the active nodes, excluding the accused and
    ///      the challenger. O(committeeSize × active nodes); the registry caps active nodes.
    function _selectCommittee(bytes32 seed, address[] memory accused, address challenger)
        private
        view
        returns (address[] memory committee)
    {
        (address[] memory nodes, uint256[] memory stakes) = registry.activeNodesWithStake();
        uint256 total;
        for (uint256 i = 0; i < nodes.length; i++) {
            bool excluded = nodes[i] == challenger;
            for (uint256 j = 0; j < accused.length; j++) {
                if (nodes[i] == accused[j]) excluded = true;
            }
            if (excluded) stakes[i] = 0;
            total += stakes[i];
        }
        committee = new address[](committeeSize);
        uint256 picked;
        while (picked < committeeSize && total > 0) {
            uint256 x = uint256(keccak256(abi.encode(seed, picked))) % total;
            uint256 acc;
            for (uint256 i = 0; i < nodes.length; i++) {
                acc += stakes[i];
                if (x < acc) {
                    committee[picked++] = nodes[i];
                    total -= stakes[i];
                    stakes[i] = 0;
                    break;
                }
            }
        }
        assembly {
            mstore(committee, picked)
        }
    }

    /// @dev The output hash more than half of the whole committee voted for, if any.
    function _majority(uint256 challengeId, address[] storage committee)
        private
        view
        returns (bool found, bytes32 majority)
    {
        uint256 n = committee.length;
        for (uint256 i = 0; i < n; i++) {
            if (!hasVoted[challengeId][committee[i]]) continue;
            bytes32 v = voteOf[challengeId][committee[i]];
            uint256 count;
            for (uint256 j = 0; j < n; j++) {
                if (hasVoted[challengeId][committee[j]] && voteOf[challengeId][committee[j]] == v) count++;
            }
            if (count * 2 > n) return (true, v);
        }
        return (false, bytes32(0));
    }

    function _votersFor(uint256 challengeId, address[] storage committee, bytes32 output)
        private
        view
        returns (address[] memory winners)
    {
        winners = new address[](committee.length);
        uint256 k;
        for (uint256 i = 0; i < committee.length; i++) {
            address m = committee[i];
            if (hasVoted[challengeId][m] && voteOf[challengeId][m] == output) winners[k++] = m;
        }
        assembly {
            mstore(winners, k)
        }
    }

    /// @dev Slashes slashBps of `node`'s slashable stake: challengerBps to `challenger`, committeeBps split
    ///      among `winners` (burned when there are none), the rest to the treasury or burned.
    function _slashAndPay(uint256 challengeId, address node, address challenger, address[] memory winners)
        private
    {
        uint256 taken;
        if (registry.isRegistered(node)) {
            taken = registry.slash(node, registry.slashableOf(node) * slashBps / BPS);
        }
        uint256 toChallenger = taken * challengerBps / BPS;
        _credit(challenger, toChallenger);
        uint256 toCommittee = _payCommittee(winners, taken * committeeBps / BPS);
        uint256 burned = taken - toChallenger - toCommittee;
        _burn(burned);
        emit NodeSlashed(challengeId, node, taken, toChallenger, toCommittee, burned);
    }

    /// @dev Splits `amount` equally among `winners`; returns what was paid (the dust stays with the caller).
    function _payCommittee(address[] memory winners, uint256 amount) private returns (uint256 paidOut) {
        if (winners.length == 0 || amount == 0) return 0;
        uint256 each = amount / winners.length;
        for (uint256 i = 0; i < winners.length; i++) {
            _credit(winners[i], each);
        }
        return each * winners.length;
    }

    function _voidBatch(uint256 batchId) private {
        Batch storage b = _batches[batchId];
        if (b.status != BatchStatus.Open) return;
        b.status = BatchStatus.Voided;
        uint256 fee = b.fee;
        if (fee > 0) {
            Escrow storage e = _escrows[b.client];
            e.balance += uint128(fee);
        }
        emit BatchVoided(batchId, b.client, fee);
    }

    function _burn(uint256 amount) private {
        if (amount == 0) return;
        if (treasury != address(0)) {
            _credit(treasury, amount);
        } else {
            totalBurned += amount;
        }
    }

    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        credits[account] += amount;
        emit Credited(account, amount);
    }

    function _challenge(uint256 challengeId) private view returns (Challenge storage c) {
        c = _challenges[challengeId];
        if (c.challenger == address(0)) revert UnknownChallenge(challengeId);
    }

    function _isMember(address[] storage committee, address member) private view returns (bool) {
        for (uint256 i = 0; i < committee.length; i++) {
            if (committee[i] == member) return true;
        }
        return false;
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
